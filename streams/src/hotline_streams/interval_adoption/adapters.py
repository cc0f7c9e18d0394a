"""Interval adoption's I/O: publishing intervals (topics are read with ``follower``)."""

from __future__ import annotations

from datetime import UTC, datetime

from hotline_events.envelope import Event
from hotline_events.models.metrics import SlaInterval
from hotline_events.producer import EventProducer


def publish(producer: EventProducer, events: list[tuple[SlaInterval, str]], at: float) -> None:
    """Publish and wait for Kafka's acknowledgement; raises if it did not take them
    (the caller retries the same events, whose ids make a repeat a duplicate)."""
    for data, event_id in events:
        producer.publish_event(Event(data=data, source=producer.source, id=event_id,
                                     time=datetime.fromtimestamp(at, UTC)))
    producer.flush(10)
