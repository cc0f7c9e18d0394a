"""The failover witness as a real process on a real etcd, for integration tests."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import requests

from devstack.network import PortAllocator
from devstack.process import ManagedProcess, wait_until

PEER_TIMEOUT_S = 2  # the shortest an etcd lease allows


class WitnessProcess:
    """``python -m hotline_operators.witness`` on ``etcd``, under its own key prefix
    (so tests sharing one etcd do not see each other's leases), on a fixed port (so a
    restarted witness is reached at the same URL)."""

    def __init__(self, etcd: str, log: Path, *, peer_timeout_s: int = PEER_TIMEOUT_S,
                 prefix: str | None = None) -> None:
        self.etcd = etcd
        self.prefix = prefix or f"/hotline/test-witness/{uuid.uuid4().hex[:8]}"
        self.port = PortAllocator().take()
        self.process = ManagedProcess(
            name="witness",
            argv=[sys.executable, "-m", "hotline_operators.witness", "--etcd", etcd,
                  "--prefix", self.prefix, "--peer-timeout", str(peer_timeout_s),
                  "--host", "127.0.0.1", "--port", str(self.port)],
            log_path=log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, healthy: bool = True) -> None:
        """Start it and wait until it answers (``healthy``: with etcd behind it)."""
        self.process.start()
        wait_until(lambda: self._answers(healthy), timeout=30, proc=self.process,
                   what="healthy (/healthz)" if healthy else "answering HTTP",
                   interval=0.1)

    def _answers(self, healthy: bool) -> bool:
        answer = requests.get(self.url + "/healthz", timeout=2)
        return answer.ok or not healthy

    def kill(self) -> None:
        """SIGKILL, as a crash would be: nothing is flushed or said goodbye."""
        self.process.kill()

    def stop(self) -> None:
        self.process.stop(grace=10)
