"""Network faults for the failover drill: iptables rules that make a site go dark.

Everything of the dev stack listens on the one machine, so a site is its ports (TCP
and UDP) and its Cassandra node's own loopback address. Dropping (not rejecting)
packets to them is what a dark data centre looks like from outside: no answer, only
timeouts. The rules live in chains of their own, hooked first into INPUT (loopback
traffic passes INPUT too) and, for faults that only hit one user's processes (the
pods run as uid 10001, the kubelet as root), OUTPUT, where the owner match works. Each
rule is tagged with the fault's name so it can be healed alone.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

CHAIN = "HOTLINE-DRILL"
_MULTIPORT_MAX = 15  # iptables' multiport match takes at most 15 ports


@dataclass(frozen=True)
class Cut:
    """What a fault makes unreachable. ``uid``: only for packets that processes of this
    user send (e.g. the operators' peer probes, not the kubelet's readiness probes)."""

    name: str
    ports: tuple[int, ...] = ()
    addresses: tuple[str, ...] = ()
    uid: int | None = None


def rules(cut: Cut) -> list[list[str]]:
    """The iptables arguments (after ``-A CHAIN``) that drop what ``cut`` names."""
    tag = ["-m", "comment", "--comment", f"hotline-drill:{cut.name}"]
    where = ["-m", "owner", "--uid-owner", str(cut.uid)] if cut.uid is not None else []
    found: list[list[str]] = []
    ports = sorted(set(cut.ports))
    for start in range(0, len(ports), _MULTIPORT_MAX):
        chunk = ",".join(str(p) for p in ports[start:start + _MULTIPORT_MAX])
        for proto in ("tcp", "udp"):
            found.append([*where, "-p", proto, "-m", "multiport", "--dports", chunk, *tag,
                          "-j", "DROP"])
    found.extend(["-d", address, *where, *tag, "-j", "DROP"] for address in cut.addresses)
    return found


class FirewallError(RuntimeError):
    pass


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True,
                          check=False)
    if check and done.returncode != 0:
        raise FirewallError(f"iptables {' '.join(args)} failed: {done.stderr.strip()}")
    return done


class Firewall:
    """The drill's chains: ``cut`` adds a fault, ``heal`` removes it, ``close`` all."""

    def __init__(self, chain: str = CHAIN) -> None:
        self.chains = {"INPUT": chain, "OUTPUT": f"{chain}-OUT"}
        for hook, own in self.chains.items():
            if _iptables("-n", "-L", own, check=False).returncode != 0:
                _iptables("-N", own)
            _iptables("-F", own)  # faults left by a drill that died start healed
            if _iptables("-C", hook, "-j", own, check=False).returncode != 0:
                _iptables("-I", hook, "1", "-j", own)

    def cut(self, cut: Cut) -> None:
        chain = self.chains["OUTPUT" if cut.uid is not None else "INPUT"]
        for rule in rules(cut):
            _iptables("-A", chain, *rule)

    def _listing(self, chain: str) -> str:
        """``iptables -S`` of a chain; empty once ``close`` removed it."""
        return _iptables("-S", chain, check=False).stdout

    def heal(self, name: str) -> None:
        for chain in self.chains.values():
            for rule in rules_named(self._listing(chain), chain, name):
                _iptables("-D", chain, *rule)

    def active(self) -> list[str]:
        """The names of the faults in force."""
        names = []
        for chain in self.chains.values():
            for line in self._listing(chain).splitlines():
                if "hotline-drill:" in line:
                    names.append(line.split("hotline-drill:", 1)[1].split()[0].strip('"'))
        return sorted(set(names))

    def close(self) -> None:
        for hook, own in self.chains.items():
            _iptables("-D", hook, "-j", own, check=False)
            _iptables("-F", own, check=False)
            _iptables("-X", own, check=False)


def rules_named(listing: str, chain: str, name: str) -> list[Sequence[str]]:
    """The rules of ``iptables -S chain`` output that belong to the fault ``name``."""
    wanted: list[Sequence[str]] = []
    prefix = f"-A {chain} "
    for line in listing.splitlines():
        if line.startswith(prefix) and f"hotline-drill:{name}" in line.replace('"', ""):
            wanted.append(shlex.split(line[len(prefix):]))
    return wanted

