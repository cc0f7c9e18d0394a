"""Small Kafka client helpers shared by the integration tests."""

from __future__ import annotations

import time

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import NewTopic

from devstack import kafka


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
