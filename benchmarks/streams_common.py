"""Shared by the streams benchmarks: a Kafka (devstack, or ``--kafka``), isolated topics,
a tenant file and one real stream worker process (``python -m hotline_streams worker``)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from devstack.settings import ExternalEndpoints
from devstack.stack import Component, Stack
from hotline_events.catalog import Catalog, default_catalog
from hotline_events.topics import ensure_topics


@contextmanager
def kafka(bootstrap: str | None) -> Iterator[str]:
    """The given bootstrap, or a devstack Kafka started (and stopped) here."""
    if bootstrap:
        yield bootstrap
        return
    stack = Stack(external=ExternalEndpoints.from_environ({}))
    try:
        stack.up([Component.KAFKA_SITE_A])
        yield stack.kafka["site-a"].bootstrap
    finally:
        stack.down()


def cpu_times() -> list[int]:
    """The machine's CPU time so far, per state (``/proc/stat``: user … steal)."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def stolen_share(before: list[int], after: list[int]) -> float:
    """The share of the machine's CPU time the hypervisor gave to other guests between
    two ``cpu_times()``: a noisy neighbour slows every run, whatever the code does."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return spent[7] / max(1, sum(spent))


def end_offsets(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], int]:
    """(topic, partition) → its end offset now."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe"})
    out = {}
    for topic in topics:
        for p in probe.list_topics(topic, timeout=10).topics[topic].partitions:
            out[(topic, p)] = probe.get_watermark_offsets(TopicPartition(topic, p), 10)[1]
    probe.close()
    return out


@dataclass
class Worker:
    bootstrap: str
    catalog: Catalog
    app_id: str
    port: int
    env: dict[str, str]
    log: Path
    cpus: frozenset[int] | None = None  # pinned to these CPUs (``pin_worker``)
    process: subprocess.Popen[bytes] | None = None

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return json.load(r)

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def start(self, timeout: float = 120.0) -> None:
        """Start the worker process and wait for its ``/ready``."""
        argv = [sys.executable, "-m", "hotline_streams", "worker", "-l", "warn"]
        if self.cpus:
            # taskset execs the worker: its pid is the worker's, every thread pinned.
            argv = [_taskset(), "-c", ",".join(map(str, sorted(self.cpus))), *argv]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(argv, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"worker exited: see {self.log}")
            try:
                if self.get("/ready").get("ready"):
                    return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"worker not ready after {timeout} s: see {self.log}")
            time.sleep(0.2)  # polling the readiness page

    def profile(self, out: str, seconds: float) -> subprocess.Popen[bytes]:
        """py-spy records the worker for ``seconds`` into ``out`` (collapsed stacks; run
        the benchmark with ``uv run --with py-spy``)."""
        assert self.process is not None
        return subprocess.Popen(["py-spy", "record", "-p", str(self.process.pid), "-d",
                                 str(int(seconds)), "-r", "50", "-f", "raw", "-o", out,
                                 "--nonblocking"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _taskset() -> str:
    taskset = shutil.which("taskset")
    if taskset is None:
        raise SystemExit("--pin needs taskset (Debian package util-linux)")
    return taskset


def pin_worker() -> tuple[frozenset[int], frozenset[int]]:
    """A core of its own for the worker: (the worker's CPUs, everyone else's). This
    process moves to the others now, so a Kafka it starts and its client threads run
    there too. Why: on 2 cores the worker shared its core with the broker and the load
    generator; a pod with a dedicated core (Kubernetes' static CPU manager) does not."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit(f"--pin needs at least 2 CPUs, this process may use {cpus}")
    mine, others = frozenset(cpus[-1:]), frozenset(cpus[:-1])
    os.sched_setaffinity(0, others)
    return mine, others


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def worker(bootstrap: str, tenant_yaml: str, start: bool = True,
           settings: dict[str, str] | None = None,
           cpus: frozenset[int] | None = None) -> Iterator[Worker]:
    """Isolated topics (created now), a tenant file and a worker (started unless
    ``start=False``: then call ``start()``), with ``settings`` added to its environment
    and pinned to ``cpus`` if given; stopped on exit."""
    run = uuid.uuid4().hex[:8]
    catalog = default_catalog().prefixed(f"b{run}.")
    ensure_topics(bootstrap, catalog, replication_factor=1)
    work = Path(tempfile.mkdtemp(prefix="streams-bench-"))
    (work / "tenants").mkdir()
    (work / "tenants" / "bench.yaml").write_text(tenant_yaml)
    port = _free_port()
    app_id = f"streams-bench-{run}"
    env = {**os.environ, "HOTLINE_KAFKA_SITE_A": bootstrap, "HOTLINE_STREAMS_APP_ID": app_id,
           "HOTLINE_TOPIC_PREFIX": f"b{run}.", "HOTLINE_TENANTS_DIR": str(work / "tenants"),
           "HOTLINE_STREAMS_WEB_PORT": str(port),
           "HOTLINE_STREAMS_DATA_DIR": str(work / "data"), **(settings or {})}
    w = Worker(bootstrap, catalog, app_id, port, env, work / "worker.log", cpus)
    try:
        if start:
            w.start()
        yield w
    finally:
        w.stop()
        _delete_topics(bootstrap, (f"b{run}.", app_id))


def _delete_topics(bootstrap: str, prefixes: tuple[str, ...]) -> None:
    """The run's topics go with it. Why: each run creates about 30 topics and 200
    partitions; on a broker reused across runs (``--kafka``) they piled up, and the
    broker's work for thousands of idle partitions raised the measured p99 of
    benchmarks/streams_routing.py from about 40 ms to between 55 and 120 ms."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [n for n in admin.list_topics(timeout=10).topics if n.startswith(prefixes)]
    for name, future in admin.delete_topics(names).items() if names else ():
        try:
            future.result(30)
        except Exception as exc:  # best effort: say so and go on
            print(f"benchmark: could not delete topic {name}: {exc}", file=sys.stderr)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
