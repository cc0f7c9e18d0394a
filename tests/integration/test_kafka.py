"""Each site's Kafka takes idempotent acks=all writes and serves a consumer group."""

from __future__ import annotations

import uuid

import pytest

from devstack.kafka import KafkaCluster
from helpers.kafka_io import committed, consume, create_topic, produce

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("site", ["site-a", "site-b"])
def test_idempotent_producer_and_consumer_group(site: str, request: pytest.FixtureRequest) -> None:
    cluster: KafkaCluster = request.getfixturevalue(f"kafka_{site.replace('-', '_')}")
    topic = f"devstack.roundtrip.{uuid.uuid4().hex[:8]}"
    create_topic(cluster.bootstrap, topic, partitions=3)
    sent = [(f"call-{i % 5}".encode(), f"event-{i}".encode()) for i in range(50)]

    produce(cluster.bootstrap, topic, sent)

    group = f"devstack-test-{uuid.uuid4().hex[:8]}"
    received = consume(cluster.bootstrap, group, topic, 50)
    assert sorted(received) == sorted(sent), "every record once, none duplicated"
    assert sum(committed(cluster.bootstrap, group, topic, partitions=3)) == 50


@pytest.mark.parametrize("site", ["site-a", "site-b"])
def test_the_broker_runs_zgc_and_logs_its_collections(site: str,
                                                       request: pytest.FixtureRequest) -> None:
    """ZGC (devstack/kafka.py: G1 paused the broker 15-40 ms every few seconds under
    load), with its collections logged where the benchmarks look for stalls."""
    cluster: KafkaCluster = request.getfixturevalue(f"kafka_{site.replace('-', '_')}")
    if cluster.gc_log is None:
        pytest.skip(f"{cluster.name} is external: its JVM is not ours to check")
    log = cluster.gc_log.read_text()
    assert "Using The Z Garbage Collector" in log, log[:500]
    assert "Garbage Collection (" in log, f"no collection logged yet: {log[:500]}"
