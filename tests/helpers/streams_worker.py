"""A real stream worker process (``python -m hotline_streams worker``) for tests:
started, waited on through ``/ready``, read through its HTTP views, killed or stopped."""

from __future__ import annotations

import dataclasses
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class StreamWorker:
    """One worker process; ``start`` waits until its ``/readyz`` (the pods' readiness
    probe) says so."""

    env: dict[str, str]
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def sibling(self, name: str) -> StreamWorker:
        """Another worker of the same app (same group, tables and topics), not started,
        on its own port, logging to ``name.<start>.log`` beside this one's logs."""
        other = dataclasses.replace(self, port=free_port(), process=None, starts=0,
                                    log_path=self.log_path.with_name(name))
        other.env = {**self.env, "HOTLINE_STREAMS_WEB_PORT": str(other.port)}
        return other

    def log_of(self, start: int) -> Path:
        """The log of the ``start``-th start (1 is the first)."""
        return self.log_path.with_suffix(f".{start}.log")

    def start(self, timeout: float = 90.0) -> None:
        self.starts += 1
        log = self.log_of(self.starts)
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hotline_streams", "worker", "-l", "info"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"stream worker exited ({self.process.returncode}):\n"
                                     + self.tail(log))
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"stream worker not ready after {timeout} s:\n"
                                     + self.tail(log))
            time.sleep(0.2)  # polling an HTTP endpoint; readiness has no push notification

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return bool(json.load(r).get("ready"))
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def view(self, tenant: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/tenants/{tenant}/routing"
        with urllib.request.urlopen(url, timeout=5) as r:
            body: dict[str, Any] = json.load(r)
            return body

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            body: bytes = r.read()
            return body

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """POST JSON; returns (status, decoded body) for errors as well."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method="POST",
            data=json.dumps(body or {}).encode(), headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, no flush (a crashed pod)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def tail(self, log: Path | None = None, lines: int = 40) -> str:
        log = log or self.log_of(self.starts)
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def agent_states(view: dict[str, Any]) -> dict[str, str]:
    """Agent id → state in a worker's routing view (``/tenants/{t}/routing``)."""
    return {a["agent_id"]: a["state"] for a in view["agents"]}
