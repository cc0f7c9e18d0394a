"""Loopback addresses and ports for one run, chosen so two runs never collide."""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass, field


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
