"""Fixtures for the stream worker tests: isolated topics, tenant files, a real worker
process (``python -m hotline_streams worker``) and readers of its output topics."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from devstack.kafka import KafkaCluster
from helpers.kafka_io import EventReader
from hotline_events.catalog import Catalog, default_catalog
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics

T = TypeVar("T")

TENANTS = {
    "acme.yaml": """
tenant: acme
queues:
  billing:
    required_skills: [billing]
    service_level: {threshold_s: 20, target: 0.8, short_abandon_s: 5}
  general:
    required_skills: [general]
    service_level: {threshold_s: 30, target: 0.9, short_abandon_s: 3,
                    abandon_treatment: ignored}
""",
    "bank.yaml": """
tenant: bank
queues:
  cards:
    required_skills: [cards]
    ring_timeout_s: 600  # the kill/restart takes wall-clock time: no RONA in that test
    overflow: [{after_s: 600, required_skills: [general]}]
""",
    "clinic.yaml": """
tenant: clinic
queues:
  triage:
    required_skills: [triage]
    ring_timeout_s: 2
    service_level: {interval_s: 10}
""",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class StreamWorker:
    """One worker process; ``start`` waits until its ``/ready`` says so."""

    env: dict[str, str]
    log_path: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, timeout: float = 90.0) -> None:
        self.starts += 1
        log = self.log_path.with_suffix(f".{self.starts}.log")
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
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=2) as r:
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
        log = log or self.log_path.with_suffix(f".{self.starts}.log")
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])




@dataclass
class StreamsSetup:
    bootstrap: str
    catalog: Catalog
    worker: StreamWorker
    producer: EventProducer

    def topic(self, model: type[EventModel]) -> str:
        return self.catalog.topic_for_type(model.TYPE).name

    def publish(self, events: list[Event]) -> None:
        for event in events:
            self.producer.publish_event(event)
        self.producer.flush()

    def reader(self, model: type[EventModel]) -> EventReader:
        return EventReader(self.bootstrap, self.topic(model))


@pytest.fixture
def streams(kafka_site_a: KafkaCluster, tmp_path: Path) -> Iterator[StreamsSetup]:
    run = uuid.uuid4().hex[:8]
    catalog = default_catalog().prefixed(f"t{run}.")
    ensure_topics(kafka_site_a.bootstrap, catalog, replication_factor=1)
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    for name, text in TENANTS.items():
        (tenants / name).write_text(text)
    port = free_port()
    env = {**os.environ,
           "HOTLINE_KAFKA_SITE_A": kafka_site_a.bootstrap,
           "HOTLINE_STREAMS_APP_ID": f"streams-test-{run}",
           "HOTLINE_TOPIC_PREFIX": f"t{run}.",
           "HOTLINE_TENANTS_DIR": str(tenants),
           "HOTLINE_SLA_GRACE_S": str(6 * 3600),
           "HOTLINE_STREAMS_WEB_PORT": str(port),
           "HOTLINE_STREAMS_DATA_DIR": str(tmp_path / "data")}
    worker = StreamWorker(env=env, log_path=tmp_path / "worker", port=port)
    producer = EventProducer(kafka_site_a.bootstrap, "//hotline/site-a/test/streams",
                             catalog=catalog)
    try:
        yield StreamsSetup(kafka_site_a.bootstrap, catalog, worker, producer)
    finally:
        worker.stop()
