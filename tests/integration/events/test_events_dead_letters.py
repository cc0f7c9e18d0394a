"""An invalid record goes to the dead-letter topic with its error and source
coordinates while the consumer goes on; a replayed event is handled once."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from devstack.kafka import KafkaCluster
from hotline_events.catalog import Catalog, default_catalog
from hotline_events.consumer import ContractConsumer, Received
from hotline_events.envelope import Event, encode
from hotline_events.examples import examples
from hotline_events.models.calls import CallAnswered, CallCompleted
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics

pytestmark = pytest.mark.integration
SOURCE = "//hotline/site-a/media-node/mn-test"


@pytest.fixture()
def catalog(kafka_site_a: KafkaCluster) -> Catalog:
    isolated = default_catalog().prefixed(f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_site_a.bootstrap, isolated)
    return isolated


def produce_raw(bootstrap: str, topic: str, key: bytes, value: bytes,
                headers: list[tuple[str, str | bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all"})
    producer.produce(topic, key=key, value=value, headers=headers)
    assert producer.flush(30) == 0


def committed_offset(bootstrap: str, group: str, topic: str, partition: int) -> int:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, partition)])
    result = admin.list_consumer_group_offsets([request])[group].result(30)
    return int(result.topic_partitions[0].offset)


def read_all(bootstrap: str, topic: str, count: int, timeout: float = 60.0) -> list[
        tuple[bytes | None, bytes | None, dict[str, bytes]]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            got.append((msg.key(), msg.value(), {k: v for k, v in msg.headers() or []}))
    finally:
        consumer.close()
    return got


def test_invalid_record_is_dead_lettered_and_consuming_goes_on(
        kafka_site_a: KafkaCluster, catalog: Catalog, caplog: pytest.LogCaptureFixture) -> None:
    bootstrap = kafka_site_a.bootstrap
    topic = catalog.topic_for_type(CallAnswered.TYPE).name
    answered = examples()[CallAnswered.TYPE]
    completed = examples()[CallCompleted.TYPE]

    producer = EventProducer(bootstrap, SOURCE, catalog=catalog)
    first = producer.publish(answered)
    producer.flush()
    # A buggy producer: valid envelope, but wait_seconds as a string.
    bad = Event(data=answered, source=SOURCE)
    key, value, headers = encode(bad, catalog=catalog)
    body = json.loads(value)
    body["wait_seconds"] = "17"
    produce_raw(bootstrap, topic, key, json.dumps(body).encode(), headers)
    second = producer.publish(completed)
    producer.flush()
    # A replay (mirroring, failover): the first event again, byte for byte.
    key, value, headers = encode(first, catalog=catalog)
    produce_raw(bootstrap, topic, key, value, headers)

    group = f"contract-test-{uuid.uuid4().hex[:8]}"
    consumer = ContractConsumer(bootstrap, group, [topic], catalog=catalog)
    received: list[Received] = []
    deadline = time.monotonic() + 60
    with caplog.at_level(logging.WARNING, logger="hotline_events.consumer"):
        try:
            while time.monotonic() < deadline and (len(received) < 2 or consumer.duplicates < 1):
                item = consumer.poll(0.5)
                if item is not None:
                    received.append(item)
            consumer.commit()
        finally:
            consumer.close()

    assert [r.event for r in received] == [first, second], "valid events, once, in order"
    assert [r.offset for r in received] == [0, 2]
    assert consumer.dead_lettered == 1 and consumer.duplicates == 1
    # All four records are on the call's partition; the dead-lettered and the duplicate
    # are committed too, so a restart resumes after them.
    assert committed_offset(bootstrap, group, topic, received[0].partition) == 4

    dead = read_all(bootstrap, topic + ".deadletter", 1)
    assert len(dead) == 1
    dlq_key, dlq_value, dlq_headers = dead[0]
    assert dlq_key == key and json.loads(dlq_value or b"")["wait_seconds"] == "17"
    assert dlq_headers["ce_id"] == bad.id.encode(), "original headers kept"
    assert dlq_headers["dlq_source_topic"] == topic.encode()
    assert dlq_headers["dlq_source_offset"] == b"1"
    assert dlq_headers["dlq_source_partition"] == str(received[0].partition).encode()
    assert dlq_headers["dlq_consumer_group"] == group.encode()
    assert dlq_headers["dlq_error_field"] == b"$.wait_seconds"
    assert (b"hotline.call.answered.v1: Expected `float`, got `str` - at `$.wait_seconds`"
            in dlq_headers["dlq_error"])

    log = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{topic}[{received[0].partition}]@1" in log
    assert answered.call_id in log and "consuming continues" in log


def test_an_event_dated_ahead_of_the_clock_is_dead_lettered(
        kafka_site_a: KafkaCluster, catalog: Catalog) -> None:
    """A valid record dated an hour ahead (a forged or broken producer) would hold
    routing and service levels at a time that has not come: dead-lettered, naming
    ce_time; an event a few seconds ahead (clock skew) is taken."""
    bootstrap = kafka_site_a.bootstrap
    topic = catalog.topic_for_type(CallAnswered.TYPE).name
    producer = EventProducer(bootstrap, SOURCE, catalog=catalog)
    now = datetime.now(UTC)
    ahead = Event(data=examples()[CallAnswered.TYPE], source=SOURCE,
                  time=now + timedelta(hours=1))
    skewed = Event(data=examples()[CallCompleted.TYPE], source=SOURCE,
                   time=now + timedelta(seconds=5))
    for event in (ahead, skewed):
        producer.publish_event(event)
    producer.flush()

    consumer = ContractConsumer(bootstrap, f"ahead-{uuid.uuid4().hex[:8]}", [topic],
                                catalog=catalog)
    received: list[Received] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and not received:
            item = consumer.poll(0.5)
            if item is not None:
                received.append(item)
    finally:
        consumer.close()
    assert [r.event.id for r in received] == [skewed.id]
    assert consumer.dead_lettered == 1
    _key, _value, headers = read_all(bootstrap, topic + ".deadletter", 1)[0]
    assert headers["ce_id"] == ahead.id.encode()
    assert headers["dlq_error_field"] == b"ce_time"
    assert b"ahead of this consumer's clock" in headers["dlq_error"]
