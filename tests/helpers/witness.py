"""The failover witness as a real process on a real etcd, for integration tests."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from devstack.network import PortAllocator
from devstack.process import ManagedProcess, wait_until
from devstack.witness_store import write_site_keys
from hotline_operators.witness.signing import KEYS_DIR_ENV, sign

PEER_TIMEOUT_S = 2  # the shortest an etcd lease allows
# Every site name the integration tests give their sites: each has a witness key.
TEST_SITES = ("site-a", "site-b", "site-c", "site-f", "site-z", "cut-a", "cut-b", "iso-a",
              "iso-b")


class WitnessProcess:
    """``python -m hotline_operators.witness`` on ``etcd``, under its own key prefix
    (so tests sharing one etcd do not see each other's leases), on a fixed port (so a
    restarted witness is reached at the same URL)."""

    def __init__(self, etcd: str, log: Path, *, peer_timeout_s: int = PEER_TIMEOUT_S,
                 prefix: str | None = None) -> None:
        self.etcd = etcd
        self.prefix = prefix or f"/hotline/test-witness/{uuid.uuid4().hex[:8]}"
        self.port = PortAllocator().take()
        # The sites' request-signing keys: the operators read the same directory
        # (HOTLINE_WITNESS_KEYS_DIR).
        self.keys_dir = log.parent / "witness-keys"
        self.keys = {site: key.encode()
                     for site, key in write_site_keys(self.keys_dir, TEST_SITES).items()}
        self.process = ManagedProcess(
            name="witness",
            argv=[sys.executable, "-m", "hotline_operators.witness", "--etcd", etcd,
                  "--prefix", self.prefix, "--peer-timeout", str(peer_timeout_s),
                  "--keys-dir", str(self.keys_dir),
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



def post(url: str, path: str, body: Any, site: str | None = None,
         keys_dir: Path | None = None) -> requests.Response:
    """A POST to the witness signed as ``site`` — by default the site the body speaks
    for (``site``, ``holder``, or for a release the lease's holder) — with its key in
    ``keys_dir`` (default ``$HOTLINE_WITNESS_KEYS_DIR``, set by the tests' witness)."""
    directory = keys_dir or Path(os.environ[KEYS_DIR_ENV])
    if site is None and isinstance(body, dict):
        site = body.get("site") or body.get("holder")
        if site is None and "failed_site" in body:
            held = requests.get(url + "/leases", timeout=5).json()
            site = held.get(body["failed_site"], {}).get("holder")
    signer = site if isinstance(site, str) else "site-a"
    data = json.dumps(body).encode()
    key = (directory / signer).read_bytes().strip()
    return requests.post(url + path, data=data, timeout=5, headers={
        "Content-Type": "application/json",
        **sign(signer, key, "POST", path, data, time.time())})
