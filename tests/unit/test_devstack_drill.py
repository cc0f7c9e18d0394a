"""The drill's pure parts: which iptables rules a fault is, the carrier's edges."""

from __future__ import annotations

from pathlib import Path

from devstack.carrier import carrier_cfg, dispatcher_list
from devstack.faults import Cut, rules, rules_named


def test_a_dark_site_drops_its_ports_both_ways_and_its_addresses() -> None:
    cut = Cut(name="dark-site-b", ports=tuple(range(40000, 40020)), addresses=("127.9.9.3",))
    found = rules(cut)
    # 20 ports: two multiport chunks (15 + 5), each for TCP and UDP, then the address.
    assert [r[r.index("-p") + 1] for r in found if "-p" in r] == ["tcp", "udp", "tcp", "udp"]
    chunks = [r[r.index("--dports") + 1] for r in found if "--dports" in r]
    assert chunks[0].count(",") == 14 and chunks[2] == "40015,40016,40017,40018,40019"
    assert found[-1][:2] == ["-d", "127.9.9.3"] and found[-1][-2:] == ["-j", "DROP"]
    assert all("hotline-drill:dark-site-b" in r for r in found)


def test_a_link_cut_only_drops_what_the_pods_user_sends() -> None:
    found = rules(Cut(name="link", ports=(4001, 4002), uid=10001))
    assert all(r[r.index("--uid-owner") + 1] == "10001" for r in found)


def test_healing_one_fault_leaves_the_others() -> None:
    listing = "\n".join([
        "-N HOTLINE-DRILL",
        '-A HOTLINE-DRILL -p tcp -m multiport --dports 1,2 -m comment --comment '
        '"hotline-drill:link" -j DROP',
        '-A HOTLINE-DRILL -d 127.9.9.3/32 -m comment --comment "hotline-drill:dark-site-b" '
        '-j DROP'])
    assert rules_named(listing, "HOTLINE-DRILL", "link") == [
        ["-p", "tcp", "-m", "multiport", "--dports", "1,2", "-m", "comment", "--comment",
         "hotline-drill:link", "-j", "DROP"]]


def test_the_carrier_lists_both_edges_on_the_loopback_and_retries_the_other() -> None:
    assert dispatcher_list({"site-b": 5002, "site-a": 5001}) == (
        "1 sip:127.0.0.1:5001 0 0 duid=site-a\n1 sip:127.0.0.1:5002 0 0 duid=site-b\n")
    cfg = carrier_cfg(5060, Path("/tmp/d.list"))
    assert 'listen=udp:127.0.0.1:5060' in cfg and "ds_next_dst()" in cfg
    assert 't_check_status("408|500|503") || t_branch_timeout()' in cfg
