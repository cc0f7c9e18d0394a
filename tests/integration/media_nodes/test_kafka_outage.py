"""Kafka goes down under a worker: calls keep flowing, events wait, then drain in order.

The test runs its own Kafka (stopping the session's would break other tests), stops
it while a call runs through the worker, and starts it again on the same port and
data. The worker reports itself degraded on /healthz and /readyz and in its log
meanwhile, and healthy again once the buffer drained.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_nodes_support import CallReader, Worker, render, run_sipp, start_worker
from pool_support import http_get, metric, poll

from devstack import kafka
from devstack.kafka import KafkaCluster
from devstack.network import PortAllocator
from hotline_events.catalog import Catalog, default_catalog
from hotline_events.models.calls import CallCompleted, CallOffered
from hotline_events.topics import ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    cluster = kafka.start(f"outage-{uuid.uuid4().hex[:6]}", tmp_path_factory.mktemp("kafka"),
                          PortAllocator())
    assert cluster.process is not None
    try:
        cluster.wait_ready(180)
        yield cluster
    finally:
        cluster.process.stop()


@pytest.fixture(scope="module")
def own_catalog(own_kafka: KafkaCluster) -> Catalog:
    catalog = default_catalog().prefixed("outage.")
    ensure_topics(own_kafka.bootstrap, catalog)
    return catalog


@pytest.fixture(scope="module")
def outage_worker(own_kafka: KafkaCluster, own_catalog: Catalog, prompt_cache: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    w = start_worker(own_kafka.bootstrap, own_catalog, prompt_cache,
                     tmp_path_factory.mktemp("worker"), "mn-outage-0", "--health-port", "0",
                     "--heartbeat-seconds", "1")
    yield w
    assert w.stop() == 0, w.log_text()[-3000:]


def health_url(worker: Worker) -> str:
    poll("the worker prints its health address",
         lambda: any(line.startswith("health ") for line in worker.stdout), 10)
    line = next(line for line in worker.stdout if line.startswith("health "))
    return line.split(" ", 1)[1].strip().rstrip("/")


def kinds(events: list[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_calls_flow_while_kafka_is_down_and_events_drain_in_order_after(
        own_kafka: KafkaCluster, own_catalog: Catalog, outage_worker: Worker, sipp: Path,
        tmp_path: Path) -> None:
    assert own_kafka.process is not None
    url = health_url(outage_worker)
    topic = own_catalog.topic_for_type(CallOffered.TYPE).name

    def call(caller: str) -> None:
        run_sipp(sipp, render("speed_dial_system_bye.xml", tmp_path, caller=caller,
                              bye_timeout_ms="20000"), outage_worker.port, service="800101")

    reader = CallReader(own_kafka.bootstrap, topic)
    try:
        call("+4915112350001")
        before = kinds(reader.wait_for("+4915112350001",
                                       lambda ev: isinstance(ev[-1], CallCompleted)))
    finally:
        reader.close()
    assert http_get(f"{url}/healthz") == (200, "ok\n")

    own_kafka.process.stop()
    call("+4915112350002")  # the call runs end to end with Kafka down
    poll("the worker reports itself degraded",
         lambda: http_get(f"{url}/healthz")[1].startswith("degraded: "), 60,
         lambda: http_get(f"{url}/healthz"))
    status, body = http_get(f"{url}/readyz")
    assert status == 200 and body.startswith("ready, degraded: "), body
    metrics = http_get(f"{url}/metrics")[1]
    assert metric(metrics, "hotline_media_degraded") == 1
    assert metric(metrics, "hotline_media_events_buffered") >= len(before)
    assert metric(metrics, "hotline_media_events_dropped_total") == 0
    assert "publishing degraded" in outage_worker.log_text()

    own_kafka.process.start()  # same port, same data
    own_kafka.wait_ready(180)
    reader = CallReader(own_kafka.bootstrap, topic)
    try:
        during = reader.wait_for("+4915112350002", lambda ev: isinstance(ev[-1], CallCompleted),
                                 timeout=120)
    finally:
        reader.close()
    assert kinds(during) == before  # every event of the call, in order
    poll("the worker healthy again with an empty buffer",
         lambda: http_get(f"{url}/healthz") == (200, "ok\n")
         and metric(http_get(f"{url}/metrics")[1], "hotline_media_events_buffered") == 0,
         60, lambda: http_get(f"{url}/metrics")[1])
    assert "publishing recovered" in outage_worker.log_text()
