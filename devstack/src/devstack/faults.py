"""Network faults for the failover drill: iptables rules that make a site go dark.

Everything of the dev stack listens on the one machine, so a site is its ports (TCP
and UDP) and its Cassandra node's own loopback address. Dropping (not rejecting)
packets to them is what a dark data centre looks like from outside: no answer, only
timeouts. The rules live in one chain of their own, hooked first into INPUT (loopback
traffic passes INPUT too), each tagged with the fault's name so it can be healed alone.
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
    """What a fault makes unreachable. ``destination`` limits the port rules to one
    address (e.g. the peers' probes on 127.0.0.1, not the kubelet's on the node IP)."""

    name: str
    ports: tuple[int, ...] = ()
    addresses: tuple[str, ...] = ()
    destination: str | None = None


def rules(cut: Cut) -> list[list[str]]:
    """The iptables arguments (after ``-A CHAIN``) that drop what ``cut`` names."""
    tag = ["-m", "comment", "--comment", f"hotline-drill:{cut.name}"]
    where = ["-d", cut.destination] if cut.destination else []
    found: list[list[str]] = []
    ports = sorted(set(cut.ports))
    for start in range(0, len(ports), _MULTIPORT_MAX):
        chunk = ",".join(str(p) for p in ports[start:start + _MULTIPORT_MAX])
        for proto in ("tcp", "udp"):
            found.append([*where, "-p", proto, "-m", "multiport", "--dports", chunk, *tag,
                          "-j", "DROP"])
    found.extend(["-d", address, *tag, "-j", "DROP"] for address in cut.addresses)
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
    """The drill's chain: ``cut`` adds a fault, ``heal`` removes it, ``close`` all."""

    def __init__(self, chain: str = CHAIN) -> None:
        self.chain = chain
        if _iptables("-n", "-L", chain, check=False).returncode != 0:
            _iptables("-N", chain)
        if _iptables("-C", "INPUT", "-j", chain, check=False).returncode != 0:
            _iptables("-I", "INPUT", "1", "-j", chain)

    def cut(self, cut: Cut) -> None:
        for rule in rules(cut):
            _iptables("-A", self.chain, *rule)

    def _listing(self) -> str:
        """``iptables -S`` of the chain; empty once ``close`` removed it."""
        return _iptables("-S", self.chain, check=False).stdout

    def heal(self, name: str) -> None:
        for rule in rules_named(self._listing(), self.chain, name):
            _iptables("-D", self.chain, *rule)

    def active(self) -> list[str]:
        """The names of the faults in force."""
        names = []
        for line in self._listing().splitlines():
            if "hotline-drill:" in line:
                names.append(line.split("hotline-drill:", 1)[1].split()[0].strip('"'))
        return sorted(set(names))

    def close(self) -> None:
        _iptables("-D", "INPUT", "-j", self.chain, check=False)
        _iptables("-F", self.chain, check=False)
        _iptables("-X", self.chain, check=False)


def rules_named(listing: str, chain: str, name: str) -> list[Sequence[str]]:
    """The rules of ``iptables -S chain`` output that belong to the fault ``name``."""
    wanted: list[Sequence[str]] = []
    prefix = f"-A {chain} "
    for line in listing.splitlines():
        if line.startswith(prefix) and f"hotline-drill:{name}" in line.replace('"', ""):
            wanted.append(shlex.split(line[len(prefix):]))
    return wanted

