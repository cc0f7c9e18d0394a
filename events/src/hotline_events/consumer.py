"""A consumer that validates every record, dead-letters the invalid and skips replays.

``ContractConsumer.poll()`` returns the next valid, not-yet-seen event. Records that
break the contract are produced raw (same key, value and headers, plus ``dlq_*``
headers with the error and source coordinates) to ``<topic>.deadletter``; once Kafka
has acknowledged that copy the record is committed and consuming goes on.

At-least-once: calling ``poll()`` again means the previous event was handled, so its
offset is stored and committed in the background; ``commit()`` forces that
synchronously (e.g. before shutdown). A crash between two polls re-delivers the event,
hence the dedupe by ``ce_id`` (bounded, in memory: it catches replays from mirrored
topics and failovers within a process's life; effects must still be idempotent).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer

from hotline_events.catalog import Catalog, default_catalog
from hotline_events.envelope import Event, decode, header_map, refuse_if_ahead
from hotline_events.errors import CatalogError, ContractError
from hotline_events.producer import PRODUCER_DEFAULTS

log = logging.getLogger(__name__)

CONSUMER_DEFAULTS: dict[str, Any] = {
    "auto.offset.reset": "earliest",
    # Offsets are stored only after an event is handled (or dead-lettered), and
    # committed in the background from what was stored.
    "enable.auto.commit": True,
    "enable.auto.offset.store": False,
    # Kafka's 45 s default is far beyond the 30 s failover budget (DESIGN.md).
    "session.timeout.ms": 10000,
    "heartbeat.interval.ms": 3000,
}


class DeadLetterError(RuntimeError):
    """A record could not be dead-lettered; it was not committed and will be re-read."""


@dataclass(frozen=True)
class Received:
    event: Event
    topic: str
    partition: int
    offset: int
    key: bytes | None


class _SeenIds:
    """The last ``capacity`` event ids, oldest evicted first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)


class ContractConsumer:
    def __init__(self, bootstrap: str, group_id: str, topics: Sequence[str], *,
                 catalog: Catalog | None = None, config: Mapping[str, Any] | None = None,
                 dedupe_capacity: int = 100_000, dead_letter_timeout: float = 30.0) -> None:
        self.catalog = catalog or default_catalog()
        for name in topics:
            # Raises CatalogError for a topic not in the catalog.
            if self.catalog.topic(name).dead_letter_of is not None:
                # Its records are invalid by definition: dead-lettering them again would
                # loop. Read dead letters with a plain Consumer.
                raise CatalogError(f"{name} is a dead-letter topic; ContractConsumer reads "
                                   "only contract topics")
        self.group_id = group_id
        self.topics = list(topics)
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group_id,
                                   **CONSUMER_DEFAULTS, **(config or {})})
        self._dlq = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
        self._dead_letter_timeout = dead_letter_timeout
        self._seen = _SeenIds(dedupe_capacity)
        self._pending: Message | None = None
        self.dead_lettered = 0
        self.duplicates = 0
        self._consumer.subscribe(self.topics)

    def poll(self, timeout: float) -> Received | None:
        """The next valid, unseen event within ``timeout`` seconds, or ``None``."""
        self._store_pending()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            msg = self._consumer.poll(remaining)
            if msg is None:
                return None
            err = msg.error()
            if err is not None:
                self._on_error(msg, err)
                continue
            received = self._handle(msg)
            if received is not None:
                return received

    def commit(self) -> None:
        """Mark the last returned event handled and commit synchronously."""
        self._store_pending()
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:  # nothing new to commit
                raise

    def close(self) -> None:
        """Leave the group (stored offsets are committed; the last returned event is
        not, unless ``commit()`` was called after handling it)."""
        self._consumer.close()
        self._dlq.flush(self._dead_letter_timeout)

    def _store_pending(self) -> None:
        if self._pending is not None:
            self._consumer.store_offsets(message=self._pending)
            self._pending = None

    def _on_error(self, msg: Message, err: KafkaError) -> None:
        if err.fatal():
            raise KafkaException(err)
        if err.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            log.info("topic %s does not exist yet (not created or not mirrored yet); waiting",
                     msg.topic())
        else:
            log.warning("consumer %s: %s (librdkafka retries by itself)", self.group_id, err)

    def _handle(self, msg: Message) -> Received | None:
        value = msg.value()
        if value is None:  # a tombstone on a compacted topic: the key's state was removed
            self._consumer.store_offsets(message=msg)
            return None
        event_id = header_map(msg.headers()).get("ce_id")
        if event_id is not None and event_id in self._seen:
            self.duplicates += 1
            log.debug("skipping duplicate event %s at %s[%d]@%d", event_id, msg.topic(),
                      msg.partition(), msg.offset())
            self._consumer.store_offsets(message=msg)
            return None
        try:
            event = decode(msg.headers(), value)
            refuse_if_ahead(event, time.time())
        except ContractError as exc:
            self._dead_letter(msg, exc)
            self._consumer.store_offsets(message=msg)
            return None
        self._seen.add(event.id)
        self._pending = msg
        return Received(event=event, topic=str(msg.topic()), partition=msg.partition() or 0,
                        offset=msg.offset() or 0, key=msg.key())

    def _dead_letter(self, msg: Message, error: ContractError) -> None:
        topic = str(msg.topic())
        source = self.catalog.topic(topic)
        dlq = source.dead_letter_name
        where = f"{topic}[{msg.partition()}]@{msg.offset()}"
        original = msg.headers() or []
        attrs = header_map(original)
        headers: list[tuple[str, str | bytes | None]] = [
                   *(original.items() if isinstance(original, dict) else original),
                   ("dlq_error", str(error).encode()),
                   ("dlq_error_field", (error.field or "").encode()),
                   ("dlq_source_topic", topic.encode()),
                   ("dlq_source_partition", str(msg.partition()).encode()),
                   ("dlq_source_offset", str(msg.offset()).encode()),
                   ("dlq_consumer_group", self.group_id.encode())]
        failures: list[str] = []

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(str(err))

        self._dlq.produce(dlq, key=msg.key(), value=msg.value(), headers=headers,
                          on_delivery=on_delivery)
        remaining = self._dlq.flush(self._dead_letter_timeout)
        if remaining or failures:
            raise DeadLetterError(
                f"could not dead-letter invalid record {where} to {dlq} "
                f"({failures[0] if failures else f'no ack in {self._dead_letter_timeout} s'}); "
                "it was NOT committed and will be read again when the consumer restarts; "
                "this consumer stops")
        self.dead_lettered += 1
        log.warning(
            "dead-lettered invalid record %s (type %s, subject %s, key %r, event id %s): %s. "
            "The raw record is in %s with dlq_* headers; committed; consuming continues.",
            where, attrs.get("ce_type", "?"), attrs.get("ce_subject", "?"), msg.key(),
            attrs.get("ce_id", "?"), error, dlq)
