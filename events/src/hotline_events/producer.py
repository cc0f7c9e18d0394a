"""Publishes event structs to their catalog topic with the catalog key."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from hotline_events.catalog import Catalog, default_catalog
from hotline_events.envelope import Event, encode
from hotline_events.models import EventModel

# Idempotent with acks=all: a retried send never duplicates or reorders a key's events.
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
}


class ProducerError(RuntimeError):
    pass


class EventProducer:
    """``publish(struct)``: validated, enveloped, keyed and sent to the struct's topic.

    Sends are asynchronous; ``flush()`` waits for every acknowledgement and raises
    ``ProducerError`` listing the events Kafka did not take.
    """

    def __init__(self, bootstrap: str, source: str, *, catalog: Catalog | None = None,
                 config: Mapping[str, Any] | None = None) -> None:
        self.source = source
        self.catalog = catalog or default_catalog()
        self._producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS,
                                   **(config or {})})
        self._failed: list[str] = []
        self._lock = threading.Lock()

    def publish(self, data: EventModel, *, traceparent: str | None = None) -> Event:
        event = Event(data=data, source=self.source, traceparent=traceparent)
        self.publish_event(event)
        return event

    def publish_event(self, event: Event) -> None:
        topic = self.catalog.topic_for_type(event.type).name
        key, value, headers = encode(event, catalog=self.catalog)
        description = f"{event.type} {event.id} (subject {event.subject}) to {topic}"

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                with self._lock:
                    self._failed.append(f"{description}: {err}")

        while True:
            try:
                self._producer.produce(topic, key=key, value=value, headers=headers,
                                       on_delivery=on_delivery)
                break
            except BufferError:
                self._producer.poll(0.5)  # local queue full: let deliveries drain, then retry
        self._producer.poll(0)

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        with self._lock:
            failed, self._failed = self._failed, []
        if remaining or failed:
            raise ProducerError(
                f"{remaining} event(s) unacknowledged after {timeout} s and {len(failed)} "
                "rejected; they may not be in Kafka, so re-publish them (consumers dedupe by "
                "ce_id): " + "; ".join(failed[:10]))
