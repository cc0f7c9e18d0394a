"""Small Kafka client helpers shared by the integration tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import NewTopic

from devstack import kafka
from hotline_events.envelope import Event, decode


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    # Keep the client referenced until the futures resolve: a collected client
    # cancels its requests.
    client = kafka.admin(bootstrap)
    futures = client.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1)], operation_timeout=30
    )
    futures[topic].result(timeout=30)


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Idempotent, acks=all; raises if any record is not acknowledged."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all"})
    errors: list[str] = []

    def on_delivery(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    for key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} records to {topic} unacknowledged after 30 s"
    assert errors == [], f"delivery to {topic} failed: {errors}"


def consume(bootstrap: str, group: str, topic: str, count: int,
            timeout: float = 60.0) -> list[tuple[bytes | None, bytes | None]]:
    """Read up to ``count`` records as ``group``, commit them and leave the group."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    got: list[tuple[bytes | None, bytes | None]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    continue  # still being created (or mirrored)
                raise AssertionError(f"consumer error on {topic}: {msg.error()}")
            got.append((msg.key(), msg.value()))
        if got:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return got


def committed(bootstrap: str, group: str, topic: str, partitions: int = 1) -> list[int]:
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p) for p in range(partitions)])
    client = kafka.admin(bootstrap)
    result = client.list_consumer_group_offsets([request])[group].result(30)
    return [tp.offset for tp in result.topic_partitions]


def wait_for_topic(bootstrap: str, topic: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while topic not in kafka.admin(bootstrap).list_topics(timeout=5).topics:
        assert time.monotonic() < deadline, f"topic {topic} never appeared on {bootstrap}"
        time.sleep(0.25)  # polling the broker's metadata; there is no push for it


T = TypeVar("T")


class EventReader:
    """Reads a topic from its beginning and decodes every record as a contract event.

    Partitions are assigned, not subscribed: no group coordinator or rebalance to
    wait for, which keeps the tests quick and steady on a loaded machine.
    """

    def __init__(self, bootstrap: str, topic: str, timeout: float = 30.0) -> None:
        self.topic = topic
        self.events: list[Event] = []
        self.raw: list[bytes] = []
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"reader-{uuid.uuid4()}",
                                  "enable.auto.commit": False})
        wait_for_topic(bootstrap, topic, timeout)
        partitions = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])

    def poll_until(self, check: Callable[[list[Event]], T | None], timeout: float = 60.0,
                   describe: Callable[[], str] = lambda: "") -> T:
        """Read until ``check(events)`` returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = check(self.events)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.topic}: condition not met after {timeout} s; "
                                     f"{len(self.events)} events read. {describe()}")
            msg = self.consumer.poll(0.5)
            if msg is None:
                continue
            error = msg.error()
            if error is not None:
                if error.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._PARTITION_EOF):
                    continue
                raise AssertionError(f"consumer error on {self.topic}: {error}")
            self.raw.append(msg.value() or b"")
            self.events.append(decode(msg.headers(), msg.value()))

    def close(self) -> None:
        self.consumer.close()
