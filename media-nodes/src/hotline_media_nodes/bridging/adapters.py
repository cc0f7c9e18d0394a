"""Commands from Kafka for this node's calls: routing decisions (and, later, dials).

Every worker reads every partition of the topic (assigned, no consumer group): the
decisions of a tenant share a partition with all its other decisions, and only the
worker holding the call acts on it. Reading starts at the end offsets of the moment
the worker starts, so a restarted worker never acts on decisions made for calls of
its previous life (which it no longer holds anyway). Nothing is committed: the
records stay on the topic for the other consumers (SLA, BI).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from hotline_events.catalog import Topic
from hotline_events.envelope import decode
from hotline_events.errors import ContractError
from hotline_events.models import EventModel

log = logging.getLogger("hotline.media.commands")


@dataclass(frozen=True)
class Command:
    data: EventModel
    where: str  # topic[partition]@offset, for logs


class CommandReader:
    """Non-blocking reader of command topics for the worker's single-threaded loop."""

    def __init__(self, bootstrap: str, topics: list[Topic], who: str,
                 metadata_timeout: float = 10.0) -> None:
        self.topics = [t.name for t in topics]
        self.invalid = 0
        self._consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": f"{who}-{uuid.uuid4().hex[:8]}",  # required, never joined
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        })
        assignment: list[TopicPartition] = []
        for topic in topics:
            assignment += self._from_end(topic, metadata_timeout)
        self._consumer.assign(assignment)

    def _from_end(self, spec: Topic, timeout: float) -> list[TopicPartition]:
        topic = spec.name
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._end_offsets(topic, timeout)
            except KafkaException as err:
                # A topic created moments ago has no leader yet: ask again, briefly.
                if err.args[0].retriable() and time.monotonic() < deadline:
                    time.sleep(0.2)  # nothing to wait on: librdkafka has no leader callback
                    continue
                # Kafka is down at start-up: calls still flow; commands are read from
                # wherever the end is once the broker is back (none of ours can be older).
                log.error("cannot read the end offsets of %s (%s); reading it from its end "
                          "once Kafka answers", topic, err)
                return [TopicPartition(topic, p, OFFSET_END) for p in range(spec.partitions)]

    def _end_offsets(self, topic: str, timeout: float) -> list[TopicPartition]:
        meta = self._consumer.list_topics(topic, timeout=timeout).topics[topic]
        if meta.error is not None:
            raise KafkaException(meta.error)
        ends = []
        for p in sorted(meta.partitions):
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                              timeout=timeout)
            ends.append(TopicPartition(topic, p, high))
        return ends

    def poll(self, max_records: int = 50) -> list[Command]:
        """What arrived since the last call, without waiting."""
        out: list[Command] = []
        for _ in range(max_records):
            msg: Any = self._consumer.poll(0)
            if msg is None:
                break
            where = f"{msg.topic()}[{msg.partition()}]@{msg.offset()}"
            if msg.error() is not None:
                log.warning("command topics: %s (librdkafka retries by itself)", msg.error())
                continue
            try:
                out.append(Command(decode(msg.headers(), msg.value()).data, where))
            except ContractError as err:
                # Not ours to dead-letter: every worker reads every record, and the record
                # stays on the topic; the producer's contract check is where it is caught.
                self.invalid += 1
                log.error("command %s breaks the event contract (%s); ignored, nothing was "
                          "acted on", where, err)
        return out

    def close(self) -> None:
        self._consumer.close()
