"""A real media-node pool (workers + its own Kamailio edge) for the pool tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from media_nodes_support import FLOW, TOKEN_KEY, free_udp_port

from hotline_events.catalog import Catalog
from hotline_events.pii import KEY_ENV


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), err.read().decode()


def metric(text: str, name: str) -> int:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return int(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} missing from /metrics:\n{text}")


def poll(what: str, check: Callable[[], object], timeout: float,
         describe: Callable[[], object] | None = None) -> None:
    """Call ``check()`` until it is truthy; fail with ``describe()`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            extra = describe() if describe is not None else ""
            raise AssertionError(f"{what}: not within {timeout:.0f} s\n{extra}")
        time.sleep(0.2)  # polling interval of a deadline loop, not a synchronisation


@dataclass
class Pool:
    proc: subprocess.Popen[str]
    edge_port: int
    health_port: int
    workdir: Path
    node: str
    out: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.health_port}{path}"

    def metrics(self) -> str:
        return http_get(self.url("/metrics"))[1]

    def worker_pid(self, name: str) -> int:
        """The pid of the pool's live worker process named ``name``."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        for pid in children.split():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"--media-node" in argv and argv[argv.index(b"--media-node") + 1] == name.encode():
                return int(pid)
        raise AssertionError(f"no live worker {name} under pool pid {self.proc.pid}")

    def destinations(self) -> str:
        done = subprocess.run(["kamcmd", "-s", f"unix:{self.workdir}/kamailio.ctl",
                               "dispatcher.list"], capture_output=True, text=True, timeout=10,
                              check=False)
        return done.stdout

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def describe(self) -> str:
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
                         for p in sorted(self.workdir.glob("*.log")))
        return f"pool stdout: {self.out}\n{logs}"

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def start_pool(kafka: str, catalog: Catalog, prompt_cache: Path, workdir: Path, node: str,
               workers: int = 2, *extra: str) -> Pool:
    prefix = catalog.topics[0].name.split("cc.", 1)[0]
    edge_port, health_port = free_udp_port(), free_tcp_port()
    stderr = (workdir / "pool.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotline_media_nodes.pool", "--workers", str(workers),
         "--flow", str(FLOW), "--allow", "127.0.0.1/32", "--kafka", kafka,
         "--topic-prefix", prefix, "--media-node", node, "--prompt-cache", str(prompt_cache),
         "--edge-listen", f"127.0.0.1:{edge_port}", "--health-port", str(health_port),
         "--workdir", str(workdir), "--heartbeat-seconds", "2", *extra],
        stdout=subprocess.PIPE, stderr=stderr, text=True,
        env={**os.environ, KEY_ENV: TOKEN_KEY})
    stderr.close()
    pool = Pool(proc, edge_port, health_port, workdir, node)

    def drain() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            pool.out.append(line.rstrip())

    threading.Thread(target=drain, daemon=True).start()
    def ready_or_dead() -> bool:
        if proc.poll() is not None:
            return True  # the assertion below reports it
        return (_listening(pool) and http_get(pool.url("/readyz"))[0] == 200
                and metric(pool.metrics(), "hotline_media_workers") == workers
                and pool.destinations().count("DEST:") == workers)

    try:
        poll("pool ready with every worker in the edge's set", ready_or_dead, 90,
             pool.describe)
        assert proc.poll() is None, pool.describe()
    except BaseException:
        proc.kill()
        raise
    return pool


def _listening(pool: Pool) -> bool:
    try:
        socket.create_connection(("127.0.0.1", pool.health_port), timeout=1).close()
    except OSError:
        return False
    return True
