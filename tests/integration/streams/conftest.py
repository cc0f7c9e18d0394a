"""Fixtures for the stream worker tests: isolated topics, tenant files, a real worker
process (``python -m hotline_streams worker``) and readers of its output topics."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from devstack.kafka import KafkaCluster
from helpers.kafka_io import EventReader
from helpers.streams_worker import StreamWorker, free_port
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

    def wait_view(self, check: Callable[[dict[str, Any]], bool], what: str,
                  tenant: str = "bank", timeout: float = 60) -> None:
        """Poll the worker's routing view of ``tenant`` until ``check`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.worker.view(tenant)
            if check(view):
                return
            assert time.monotonic() < deadline, (
                f"routing view never showed {what}: {view}\nworker log:\n{self.worker.tail()}")
            time.sleep(0.1)  # polling the HTTP view; it has no push notification


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
