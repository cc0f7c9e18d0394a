"""Loopback addresses and ports for one run, chosen so two runs never collide; the
pod network's bridge and routes, which never let a cluster address leave the machine."""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

# The pod network (one node per machine, see devstack.node). Everything here is
# local: the bridge has no uplink, pods get no default route and no masquerade.
POD_BRIDGE = "hotline0"
POD_SUBNET = "10.244.0.0/24"   # this node's pods, on the bridge
POD_GATEWAY = "10.244.0.1"     # the bridge's own address: node IP and API server address
CLUSTER_CIDR = "10.244.0.0/16"  # every pod address; blackholed beyond the bridge's /24
SERVICE_CIDR = "10.0.0.0/24"   # ClusterIPs; only kube-proxy's DNAT makes them reachable
SERVICE_GUARD = "10.0.0.0/16"  # blackholed around the Services' /24
API_SERVICE_IP = "10.0.0.1"    # the `kubernetes` Service (first address of SERVICE_CIDR)


class PodNetworkError(RuntimeError):
    """The bridge or routes could not be set up; the message says what to do."""


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def ensure_pod_network() -> None:
    """Create the pod bridge with the gateway address, and the blackhole routes.

    Idempotent; needs root (CAP_NET_ADMIN). It runs before the API server starts,
    because the API server binds and advertises the gateway address: pods reach it
    there through the ``kubernetes`` Service (a loopback address would leave that
    Service without endpoints).
    """
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise PodNetworkError("the pod network needs root and iproute2 (the `ip` command)")
    steps: list[tuple[str, ...]] = []
    if _ip("link", "show", POD_BRIDGE).returncode != 0:
        steps.append(("link", "add", POD_BRIDGE, "type", "bridge"))
    prefix = POD_SUBNET.split("/")[1]
    steps += [
        ("addr", "replace", f"{POD_GATEWAY}/{prefix}", "dev", POD_BRIDGE),
        ("link", "set", POD_BRIDGE, "up"),
        # More specific routes win: the bridge's connected /24 stays reachable, every
        # other cluster address is dropped here instead of following the default route.
        ("route", "replace", "blackhole", CLUSTER_CIDR),
        ("route", "replace", "blackhole", SERVICE_GUARD),
        # ClusterIPs onto the bridge, not into a blackhole: host processes and
        # host-network pods (the dev stack's data plane, whose Kafka and Cassandra
        # listen on the node) reach Services through kube-proxy's DNAT in OUTPUT, which
        # a blackhole would refuse before netfilter sees the packet. A ClusterIP no
        # rule translates dies on the bridge: nothing there answers it, nothing leaves.
        ("route", "replace", SERVICE_CIDR, "dev", POD_BRIDGE, "src", POD_GATEWAY),
    ]
    for step in steps:
        done = _ip(*step)
        if done.returncode != 0:
            raise PodNetworkError(
                f"`ip {' '.join(step)}` failed: {done.stderr.strip()}. The pod network needs "
                "CAP_NET_ADMIN (run as root outside an unprivileged container).")
    # Forwarding on the bridge only (not ip_forward): a pod's packet to a Service that
    # kube-proxy DNATs to another pod is routed back onto the bridge. IPv4 checks the
    # incoming interface's flag, so nothing arriving on eth0 is ever forwarded.
    Path(f"/proc/sys/net/ipv4/conf/{POD_BRIDGE}/forwarding").write_text("1\n")


def pod_routes() -> str:
    """The host's routes (``ip route``), for checks and error messages."""
    return _ip("route", "show").stdout


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class PortAllocator:
    """Hands out ports that are free now and not yet handed out in this run.

    The kernel picks them (bind to port 0), so a second run on the same machine gets
    different ones.
    """

    host: str = "127.0.0.1"
    _given: set[int] = field(default_factory=set)

    def take(self) -> int:
        for _ in range(100):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((self.host, 0))
                port = int(s.getsockname()[1])
            if port not in self._given:
                self._given.add(port)
                return port
        raise RuntimeError(f"no free TCP port on {self.host}")


def cassandra_addresses(count: int, ports: tuple[int, ...]) -> list[str]:
    """Distinct loopback addresses (127.X.Y.2, .3, ...) for Cassandra nodes.

    Cassandra nodes of one cluster share their storage port, so each node needs its
    own address; a random 127.X.Y block per run keeps concurrent runs apart.
    """
    rng = random.SystemRandom()
    for _ in range(200):
        block = f"127.{rng.randint(1, 254)}.{rng.randint(0, 254)}"
        addresses = [f"{block}.{i + 2}" for i in range(count)]
        if all(port_is_free(a, p) for a in addresses for p in ports):
            return addresses
    raise RuntimeError("no free loopback block for Cassandra nodes")
