"""etcd for the failover witness: the consensus store at the "third location".

The witness (``python -m hotline_operators.witness --etcd URL``) keeps heartbeats,
failover leases and fencing tokens in it. One member on 127.0.0.1 with its own data
directory under the run directory, and the same etcd binary as the API server's.
Unlike that one it syncs to disk (no ``--unsafe-no-fsync``): the witness's leases and
tokens are what must survive a crash, and tests stop and start it on its data.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import requests

from devstack import kubernetes
from devstack.network import PortAllocator
from devstack.process import ManagedProcess, ServerError, wait_until

NAME = "witness-etcd"


def install() -> Path:
    return kubernetes.etcd_binary()


@dataclass
class WitnessStore:
    """``url`` is what the witness's ``--etcd`` takes (and ``HOTLINE_WITNESS_ETCD``)."""

    url: str
    process: ManagedProcess | None = None  # None: an etcd someone else runs

    @property
    def name(self) -> str:
        return f"{NAME} ({self.url})"

    def healthy(self) -> bool:
        """etcd's own verdict: it has a leader and can serve a linearizable read."""
        answer = requests.get(self.url + "/health", timeout=3).json()
        return bool(answer.get("health") == "true")

    def check(self) -> None:
        if self.process is not None and not self.process.alive():
            raise self.process.failure("is not running")
        try:
            ok = self.healthy()
        except (requests.RequestException, ValueError) as exc:
            raise ServerError(f"{self.name} is not answering: {exc}") from exc
        if not ok:
            raise ServerError(f"{self.name} reports itself unhealthy (no leader?)")

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_until(self.healthy, timeout=timeout, proc=self.process, what="healthy (/health)")

    def processes(self) -> list[ManagedProcess]:
        return [self.process] if self.process else []

    # -- for failure tests: the same member, the same data, the same port ------------
    def _own(self) -> ManagedProcess:
        if self.process is None:
            raise ServerError(f"{self.name} is not started by devstack; it cannot be "
                              "stopped or restarted from here")
        return self.process

    def stop(self) -> None:
        self._own().stop()

    def kill(self) -> None:
        self._own().kill()

    def restart(self, timeout: float = 60.0) -> None:
        """Start it again on its data directory (after stop() or kill()) and wait."""
        process = self._own()
        if process.alive():
            raise ServerError(f"{self.name} is still running (pid {process.pid})")
        process.start()
        self.wait_ready(timeout)


def start(run_dir: Path, ports: PortAllocator) -> WitnessStore:
    """Spawn the witness's etcd; call wait_ready() afterwards."""
    binary = install()
    home = run_dir / NAME
    home.mkdir(parents=True, exist_ok=True)
    client_port, peer_port = ports.take(), ports.take()
    url = f"http://127.0.0.1:{client_port}"
    peer = f"http://127.0.0.1:{peer_port}"
    process = ManagedProcess(
        name=NAME,
        argv=[str(binary), f"--name={NAME}", f"--data-dir={home / 'data'}",
              f"--listen-client-urls={url}", f"--advertise-client-urls={url}",
              f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
              f"--initial-cluster={NAME}={peer}", "--log-level=warn"],
        log_path=home / "etcd.log",
    )
    process.start()
    return WitnessStore(url=url, process=process)


def write_site_keys(directory: Path, sites: Iterable[str]) -> dict[str, str]:
    """A fresh random request-signing key per site, one file per site named by it (what
    the witness's ``--keys-dir`` and the operators' ``HOTLINE_WITNESS_KEYS_DIR`` read,
    and what a mounted Secret looks like); returns site → key."""
    directory.mkdir(parents=True, exist_ok=True)
    keys: dict[str, str] = {}
    for site in sites:
        path = directory / site
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        keys[site] = path.read_text().strip()
    return keys
