"""Kamailio configuration for the media-node edge (pure rendering, no I/O)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from hotline_media_nodes.worker.pjsip import MAX_CALLS

_HOST_PORT = re.compile(r"^[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}$")
_DUID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MODULES_DIR = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"


@dataclass(frozen=True)
class Destination:
    """One worker: its SIP address and how many calls it takes (the wheel's 4)."""

    address: str  # host:port
    name: str  # dispatcher duid, e.g. "mn-a-0.w1"
    set_id: int = 1
    priority: int = 0
    max_load: int = MAX_CALLS

    def __post_init__(self) -> None:
        if not _HOST_PORT.match(self.address):
            raise ValueError(f"destination {self.name!r}: {self.address!r} is not host:port")
        if not _DUID.match(self.name):
            raise ValueError(f"destination name {self.name!r} must match {_DUID.pattern}")
        if not 1 <= self.max_load <= MAX_CALLS:
            raise ValueError(f"destination {self.name!r}: max_load {self.max_load} outside "
                             f"1..{MAX_CALLS} (one pjsua2 worker carries {MAX_CALLS} legs)")


@dataclass(frozen=True)
class EdgeConfig:
    listen: str  # host:port Kamailio listens on (UDP)
    trunks: tuple[str, ...]  # CIDRs of carriers' trunks allowed to send INVITEs
    destinations: tuple[Destination, ...]
    set_id: int = 1
    ping_interval_seconds: int = 1  # OPTIONS probes; a dead worker is out within ~2 s
    invite_timeout_ms: int = 2000  # no reply from a worker → try the next one
    algorithm: int = 10  # dispatcher 10 = call load (active dialogs vs maxload)
    modules_dir: str = MODULES_DIR
    extra_log: bool = False
    children: int = 2
    tcp: bool = False  # also listen on TCP (e.g. for a kubelet tcpSocket probe)
    # binrpc socket ("unix:/path") for kamcmd: lets the pool reload the destination set
    control_socket: str | None = None
    # JSON-RPC unix datagram socket: the edge follower (hotline_operators.edge) asks
    # for dispatcher.reload over it, with no kamcmd binary in its image
    rpc_socket: str | None = None

    def __post_init__(self) -> None:
        if not _HOST_PORT.match(self.listen):
            raise ValueError(f"listen {self.listen!r} is not host:port")
        for cidr in self.trunks:
            ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad one
        if not self.trunks:
            raise ValueError("no trunks: the edge would refuse every call")
        names = [d.name for d in self.destinations]
        if len(set(names)) != len(names):
            raise ValueError(f"destination names repeat: {sorted(names)}")


def render_dispatcher_list(cfg: EdgeConfig) -> str:
    """dispatcher.list: ``setid destination flags priority attrs`` per worker."""
    lines = ["# Rendered by hotline_media_nodes.edge; edit EdgeConfig, not this file."]
    for d in sorted(cfg.destinations, key=lambda d: (d.set_id, -d.priority, d.name)):
        lines.append(f"{d.set_id} sip:{d.address} 0 {d.priority} "
                     f"duid={d.name};maxload={d.max_load}")
    return "\n".join(lines) + "\n"


def render_kamailio_cfg(cfg: EdgeConfig, dispatcher_list_path: str) -> str:
    host, port = cfg.listen.rsplit(":", 1)
    trunk_check = " || ".join(f'is_in_subnet("$si", "{c}")' for c in cfg.trunks)
    transports = (f"auto_aliases=no\nlisten=udp:{host}:{port}\nlisten=tcp:{host}:{port}"
                  if cfg.tcp else f"disable_tcp=yes\nauto_aliases=no\nlisten=udp:{host}:{port}")
    # A pool reloads the set whenever a worker starts, drains or dies: no rate limit.
    control = (f'loadmodule "ctl.so"\nmodparam("ctl", "binrpc", "{cfg.control_socket}")\n'
               'modparam("dispatcher", "reload_delta", 0)\n' if cfg.control_socket else "")
    if cfg.rpc_socket:
        # 0666: the socket lives in a directory private to the edge (the pod's shared
        # emptyDir), where the follower may run under another uid.
        control += ('loadmodule "jsonrpcs.so"\nmodparam("jsonrpcs", "transport", 4)\n'
                    f'modparam("jsonrpcs", "dgram_socket", "{cfg.rpc_socket}")\n'
                    'modparam("jsonrpcs", "dgram_mode", 0666)\n')
        if not cfg.control_socket:
            # The follower reloads on every ConfigMap change: no 5 s rate limit.
            control += 'modparam("dispatcher", "reload_delta", 0)\n'
    return f"""#!KAMAILIO
# Hotline media-node edge. Rendered by hotline_media_nodes.edge; do not edit.
debug={3 if cfg.extra_log else 2}
log_stderror=yes
children={cfg.children}
{transports}
mpath="{cfg.modules_dir}"

loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "ipops.so"
loadmodule "dialog.so"
loadmodule "dispatcher.so"
{control}
modparam("tm", "fr_timer", {cfg.invite_timeout_ms})
modparam("tm", "fr_inv_timer", 60000)
modparam("rr", "enable_full_lr", 1)
modparam("dialog", "dlg_flag", 4)
modparam("dispatcher", "list_file", "{dispatcher_list_path}")
modparam("dispatcher", "flags", 2)
# Call-load dispatching (algorithm 10) keeps its per-call table only when this is set;
# without it Kamailio logs "ds_add_cell(): invalid parameters" and ignores the load.
modparam("dispatcher", "ds_hash_size", 9)
modparam("dispatcher", "ds_ping_method", "OPTIONS")
modparam("dispatcher", "ds_ping_from", "sip:edge@{host}:{port}")
modparam("dispatcher", "ds_ping_interval", {cfg.ping_interval_seconds})
modparam("dispatcher", "ds_probing_mode", 1)
modparam("dispatcher", "ds_probing_threshold", 1)
modparam("dispatcher", "ds_inactive_threshold", 1)
modparam("dispatcher", "ds_ping_reply_codes", "class=2")

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (!sanity_check()) {{
        xlog("L_WARN", "edge: malformed $rm from $si:$sp dropped\\n");
        exit;
    }}
    if (has_totag()) {{
        # In-dialog: follow the Record-Route back to the worker (or the trunk).
        if (loose_route()) {{
            if (is_method("BYE")) {{
                ds_load_update();
            }}
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{
                t_relay();
            }}
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (!({trunk_check})) {{
        xlog("L_WARN", "edge: $rm from $si is not an allow-listed trunk: 403\\n");
        sl_send_reply("403", "Not an allowed trunk");
        exit;
    }}
    if (is_method("OPTIONS")) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    if (!is_method("INVITE")) {{
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }}
    record_route();
    setflag(4);
    if (!ds_select_dst("{cfg.set_id}", "{cfg.algorithm}")) {{
        xlog("L_ERR", "edge: no media node available for $ci: 503\\n");
        sl_send_reply("503", "No media node available");
        exit;
    }}
    xlog("L_INFO", "edge: $ci to $du\\n");
    t_on_failure("NEXT_NODE");
    t_relay();
    exit;
}}

failure_route[NEXT_NODE] {{
    if (t_is_canceled()) {{
        exit;
    }}
    if (t_check_status("503|486|408") || t_branch_timeout()) {{
        xlog("L_WARN", "edge: $ci failed on $du ($T_reply_code); trying the next node\\n");
        if (t_branch_timeout() || t_check_status("408")) {{
            ds_mark_dst("ip");
        }}
        if (ds_next_dst()) {{
            t_on_failure("NEXT_NODE");
            t_relay();
            exit;
        }}
    }}
}}
"""
