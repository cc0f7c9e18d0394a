"""MirrorMaker 2 mirrors each site to the other and translates group offsets."""

from __future__ import annotations

import time
import uuid

import pytest

from devstack import kafka
from devstack.kafka import KafkaCluster
from devstack.mirrormaker import MirrorMaker, remote_topic
from helpers.kafka_io import committed, consume, create_topic, produce, wait_for_topic

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("direction", [("site-a", "site-b"), ("site-b", "site-a")])
def test_a_record_is_mirrored_with_the_source_site_as_prefix(
    direction: tuple[str, str], mirrormaker2: MirrorMaker,
    kafka_site_a: KafkaCluster, kafka_site_b: KafkaCluster,
) -> None:
    clusters = {"site-a": kafka_site_a, "site-b": kafka_site_b}
    source, target = (clusters[s] for s in direction)
    topic = f"devstack.mirror.{uuid.uuid4().hex[:8]}"
    create_topic(source.bootstrap, topic)
    record = (b"call-42", f"from {source.site}".encode())
    produce(source.bootstrap, topic, [record])

    mirrored = remote_topic(source.site, topic)
    wait_for_topic(target.bootstrap, mirrored)
    got = consume(target.bootstrap, f"reader-{uuid.uuid4().hex[:6]}", mirrored, 1)
    assert got == [record]
    # No ping-pong: the mirrored copy is not mirrored back to its source.
    assert remote_topic(target.site, mirrored) not in kafka_topics(source)


def kafka_topics(cluster: KafkaCluster) -> set[str]:
    return set(kafka.admin(cluster.bootstrap).list_topics(timeout=10).topics)


def test_a_consumer_group_offset_is_translated_to_the_other_site(
    mirrormaker2: MirrorMaker, kafka_site_a: KafkaCluster, kafka_site_b: KafkaCluster,
) -> None:
    topic = f"devstack.offsets.{uuid.uuid4().hex[:8]}"
    group = f"billing-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_site_a.bootstrap, topic)
    first = [(b"k", f"before-{i}".encode()) for i in range(10)]
    produce(kafka_site_a.bootstrap, topic, first)
    assert len(consume(kafka_site_a.bootstrap, group, topic, 10)) == 10
    assert committed(kafka_site_a.bootstrap, group, topic) == [10]

    mirrored = remote_topic("site-a", topic)
    deadline = time.monotonic() + 90
    translated: list[int] = []
    while time.monotonic() < deadline:
        translated = committed(kafka_site_b.bootstrap, group, mirrored)
        if translated == [10]:
            break
        time.sleep(0.5)  # MM2 syncs offsets on its own clock; poll the result
    assert translated == [10], f"site-b offset for {group} on {mirrored}: {translated}"
    assert "site-a.checkpoints.internal" in kafka_topics(kafka_site_b)

    # The group, moved to site-b, resumes after what it read on site-a.
    later = [(b"k", f"after-{i}".encode()) for i in range(3)]
    produce(kafka_site_a.bootstrap, topic, later)
    resumed = consume(kafka_site_b.bootstrap, group, mirrored, 3)
    assert resumed == later
