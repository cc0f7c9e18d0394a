"""Topics created from the catalog on the real Kafka match it; a second run is a no-op."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from devstack.kafka import KafkaCluster
from hotline_events.catalog import Catalog, default_catalog
from hotline_events.topics import ensure_topics

pytestmark = pytest.mark.integration


def read_back(bootstrap: str, names: list[str]) -> dict[str, tuple[int, dict[str, str]]]:
    """Partitions and configs as the broker reports them (independent of topics.py)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + 30
    metadata = admin.list_topics(timeout=30)
    while not set(names) <= set(metadata.topics):  # new topics reach metadata shortly after
        assert time.monotonic() < deadline, f"{set(names) - set(metadata.topics)} not visible"
        time.sleep(0.2)
        metadata = admin.list_topics(timeout=30)
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, n) for n in names])
    out = {}
    for resource, future in futures.items():
        configs = {k: e.value for k, e in future.result(timeout=30).items()}
        out[resource.name] = (len(metadata.topics[resource.name].partitions), configs)
    return out


def wait_for_configs(bootstrap: str, name: str, expected: dict[str, str],
                     timeout: float = 30.0) -> dict[str, str]:
    """The topic's configs once they show ``expected`` (KRaft brokers apply an altered
    config from the metadata log a moment after the alter call returns)."""
    deadline = time.monotonic() + timeout
    while True:
        configs = read_back(bootstrap, [name])[name][1]
        if all(configs.get(k) == v for k, v in expected.items()):
            return configs
        assert time.monotonic() < deadline, f"{name}: {expected} not applied, got {configs}"
        time.sleep(0.2)


def assert_matches(bootstrap: str, catalog: Catalog) -> None:
    topics = catalog.all_topics()
    actual = read_back(bootstrap, [t.name for t in topics])
    for topic in topics:
        partitions, configs = actual[topic.name]
        assert partitions == topic.partitions, topic.name
        assert configs["cleanup.policy"] == topic.cleanup_policy, topic.name
        if topic.retention_ms is not None:
            assert configs["retention.ms"] == str(topic.retention_ms), topic.name
        for key, value in topic.config.items():
            assert configs[key] == value, (topic.name, key)


def test_catalog_topics_are_created_as_listed_and_a_second_run_is_a_noop(
        kafka_site_a: KafkaCluster) -> None:
    catalog = default_catalog()
    first = ensure_topics(kafka_site_a.bootstrap, catalog)
    assert not first.mismatches, first.lines()
    assert_matches(kafka_site_a.bootstrap, catalog)
    assert {t.name for t in catalog.all_topics()} >= {"cc.call.events",
                                                      "cc.call.events.deadletter"}

    second = ensure_topics(kafka_site_a.bootstrap, catalog)
    assert second.noop, second.lines()
    assert len(second.unchanged) == len(catalog.all_topics())


def test_drifted_configs_are_realigned_and_partition_mismatches_reported(
        kafka_site_a: KafkaCluster) -> None:
    catalog = default_catalog().prefixed(f"t{uuid.uuid4().hex[:8]}.")
    bootstrap = kafka_site_a.bootstrap
    stats = catalog.topic_for_type("hotline.queue.statistics.v1")
    calls = catalog.topic_for_type("hotline.call.answered.v1")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    # Someone created these by hand: stats with too few partitions, calls kept forever.
    created = admin.create_topics([
        NewTopic(stats.name, num_partitions=1, replication_factor=1,
                 config={"cleanup.policy": "delete"}),
        NewTopic(calls.name, num_partitions=calls.partitions, replication_factor=1,
                 config={"retention.ms": "-1"})])
    for future in created.values():
        future.result(timeout=30)

    result = ensure_topics(bootstrap, catalog)

    assert [m.topic for m in result.mismatches] == [stats.name]
    assert "has 1 partitions, the catalog says 3" in "\n".join(result.lines())
    assert result.alter[calls.name] == {"retention.ms": str(calls.retention_ms)}
    assert result.alter[stats.name]["cleanup.policy"] == "compact"
    assert read_back(bootstrap, [stats.name])[stats.name][0] == 1, (
        "partition counts are never changed automatically")
    wait_for_configs(bootstrap, stats.name, {"cleanup.policy": "compact"})
    wait_for_configs(bootstrap, calls.name, {"retention.ms": str(calls.retention_ms)})

    # Drift a config again with an incremental alter; the next run puts it back.
    admin.incremental_alter_configs([ConfigResource(
        ResourceType.TOPIC, calls.name, incremental_configs=[ConfigEntry(
            "retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)])])[
        ConfigResource(ResourceType.TOPIC, calls.name)].result(timeout=30)
    wait_for_configs(bootstrap, calls.name, {"retention.ms": "1000"})
    again = ensure_topics(bootstrap, catalog)
    assert again.alter == {calls.name: {"retention.ms": str(calls.retention_ms)}}
    assert not again.create
    wait_for_configs(bootstrap, calls.name, {"retention.ms": str(calls.retention_ms)})
