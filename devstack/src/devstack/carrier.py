"""A carrier in front of both sites: Kamailio with both sites' edges in one failover set.

Calls arrive the way a carrier delivers them: spread over both sites' edges, and when
one site times out or answers 503 the carrier retries the other. The carrier pings
each edge with OPTIONS every second, so a dark site is skipped within a couple of
seconds. Only loopback addresses appear here (a dispatcher list probes every entry).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devstack.process import ManagedProcess, wait_until
from devstack.sip import options_ok

MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"


def dispatcher_list(edges: Mapping[str, int]) -> str:
    """Set 1: every site's edge (site → UDP port on the loopback)."""
    return "".join(f"1 sip:127.0.0.1:{port} 0 0 duid={site}\n"
                   for site, port in sorted(edges.items()))


def carrier_cfg(port: int, list_path: Path, invite_timeout_ms: int = 2000) -> str:
    """A stateful proxy: round robin over the edges, the next edge on a timeout, 408,
    500 or 503 (a site that is dark, or that has no media node left)."""
    return f"""#!KAMAILIO
debug=2
log_stderror=yes
children=2
listen=udp:127.0.0.1:{port}
mpath="{MODULES}"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "dispatcher.so"
modparam("tm", "fr_timer", {invite_timeout_ms})
modparam("tm", "fr_inv_timer", 60000)
modparam("rr", "enable_full_lr", 1)
modparam("dispatcher", "list_file", "{list_path}")
modparam("dispatcher", "flags", 2)
modparam("dispatcher", "ds_ping_method", "OPTIONS")
modparam("dispatcher", "ds_ping_from", "sip:carrier@127.0.0.1:{port}")
modparam("dispatcher", "ds_ping_interval", 1)
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_reply_codes", "class=2")

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route() || is_method("ACK")) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("OPTIONS")) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    record_route();
    if (!ds_select_dst("1", "4")) {{
        xlog("L_ERR", "carrier: no site answers for $ci: 503\\n");
        sl_send_reply("503", "No site available");
        exit;
    }}
    xlog("L_INFO", "carrier: $ci to $du\\n");
    t_on_failure("NEXT_SITE");
    t_relay();
}}

failure_route[NEXT_SITE] {{
    if (t_is_canceled()) {{
        exit;
    }}
    if (t_check_status("408|500|503") || t_branch_timeout()) {{
        xlog("L_WARN", "carrier: $ci failed on $du ($T_reply_code); trying the other site\\n");
        ds_mark_dst("ip");
        if (ds_next_dst()) {{
            t_on_failure("NEXT_SITE");
            t_relay();
            exit;
        }}
    }}
}}
"""


@dataclass
class Carrier:
    """The carrier's Kamailio, listening on 127.0.0.1:``port``."""

    port: int
    process: ManagedProcess

    def wait_ready(self, timeout: float = 30) -> None:
        wait_until(lambda: options_ok(self.port), timeout=timeout, proc=self.process,
                   what=f"answering OPTIONS on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        self.process.stop(grace=10)


def start(edges: Mapping[str, int], port: int, home: Path) -> Carrier:
    """The carrier in front of ``edges`` (site → edge port); call wait_ready() after."""
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dispatcher.list").write_text(dispatcher_list(edges))
    (home / "carrier.cfg").write_text(carrier_cfg(port, home / "dispatcher.list"))
    process = ManagedProcess(
        name="carrier", argv=[kamailio, "-f", str(home / "carrier.cfg"), "-DD", "-E",
                              "-Y", str(home), "-m", "64", "-M", "8"],
        log_path=home / "carrier.log")
    process.start()
    return Carrier(port, process)
