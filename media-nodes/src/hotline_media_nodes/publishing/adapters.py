"""The Kafka side of the buffer: an idempotent producer fed a window at a time."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from hotline_events.catalog import Catalog, default_catalog
from hotline_events.envelope import Event, encode
from hotline_events.models import EventModel
from hotline_events.producer import PRODUCER_DEFAULTS, ProducerError
from hotline_media_nodes.publishing.logic import EventBuffer, LinkStatus, link_status

log = logging.getLogger("hotline.media.publishing")

# Events never expire inside librdkafka (message.timeout.ms 0): they leave only when
# acknowledged, so an outage never reorders or silently drops them; the bound is ours.
BUFFERED_PRODUCER: dict[str, Any] = {
    **PRODUCER_DEFAULTS,
    "message.timeout.ms": 0,
    "reconnect.backoff.ms": 100,
    "reconnect.backoff.max.ms": 1000,  # back within ~1 s of the brokers' return
    "log_level": 2,  # connect failures repeat every second; error_cb reports the outage once
}


@dataclass(frozen=True)
class Encoded:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, str | bytes | None]]
    description: str


@dataclass(frozen=True)
class PublishStatus:
    link: LinkStatus
    waiting: int  # in our buffer
    in_flight: int  # handed to the producer, not yet acknowledged
    dropped: int
    delivered: int

    @property
    def buffered(self) -> int:
        return self.waiting + self.in_flight


class BufferedPublisher:
    """``publish(struct)`` never blocks on Kafka; ``poll()`` from the owner's loop.

    At most ``window`` events are inside the producer at a time; the rest wait in an
    ``EventBuffer`` of ``bound`` events (oldest dropped when full). Order holds: the
    producer is idempotent and fed in FIFO order.
    """

    def __init__(self, bootstrap: str, source: str, *, catalog: Catalog | None = None,
                 bound: int = 10_000, window: int = 256, stall_seconds: float = 5.0,
                 config: Mapping[str, Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.catalog = catalog or default_catalog()
        self.window = window
        self.stall_seconds = stall_seconds
        self.clock = clock
        self.buffer: EventBuffer[Encoded] = EventBuffer(bound)
        self.in_flight: OrderedDict[int, float] = OrderedDict()  # seq → handed-over time
        self.delivered = 0
        self.failed = 0
        self._seq = 0
        self._brokers_down = False
        self._degraded_logged = False
        self._producer = Producer({"bootstrap.servers": bootstrap, **BUFFERED_PRODUCER,
                                   "error_cb": self._on_error, **(config or {})})

    # --- the owner's side -------------------------------------------------------------

    def publish(self, data: EventModel, *, traceparent: str | None = None) -> Event:
        event = Event(data=data, source=self.source, traceparent=traceparent)
        topic = self.catalog.topic_for_type(event.type).name
        key, value, headers = encode(event, catalog=self.catalog)  # invalid → raises now
        dropped = self.buffer.push(Encoded(topic, key, value, list(headers),
                                           f"{event.type} {event.id} (subject {event.subject})"))
        if dropped is not None:
            log.error("event buffer full (%d): dropped the oldest waiting event %s; Kafka "
                      "has been unreachable too long", self.buffer.bound, dropped.description)
        self._pump()
        return event

    def poll(self) -> PublishStatus:
        """Serve delivery reports, feed the window, log degraded/recovered transitions."""
        self._producer.poll(0)
        self._pump()
        status = self.status
        if status.link.degraded and not self._degraded_logged:
            log.error("publishing degraded: %s", status.link.reason)
            self._degraded_logged = True
        elif not status.link.degraded and self._degraded_logged:
            log.warning("publishing recovered: Kafka acknowledges again; %d event(s) still "
                        "draining in order", status.buffered)
            self._degraded_logged = False
        return status

    @property
    def status(self) -> PublishStatus:
        oldest = next(iter(self.in_flight.values()), None)
        link = link_status(now=self.clock(), oldest_unacked_at=oldest, waiting=len(self.buffer),
                           in_flight=len(self.in_flight), brokers_down=self._brokers_down,
                           dropped=self.buffer.dropped, stall_seconds=self.stall_seconds)
        return PublishStatus(link, len(self.buffer), len(self.in_flight), self.buffer.dropped,
                             self.delivered)

    def flush(self, timeout: float = 30.0) -> None:
        deadline = self.clock() + timeout
        while len(self.buffer) or self.in_flight:
            self._pump()
            left = deadline - self.clock()
            if left <= 0:
                break
            self._producer.flush(min(left, 0.5))
        if len(self.buffer) or self.in_flight:
            raise ProducerError(f"{len(self.buffer) + len(self.in_flight)} event(s) not "
                                f"acknowledged by Kafka after {timeout} s; they are lost "
                                "with this process")

    # --- librdkafka's side ------------------------------------------------------------

    def _pump(self) -> None:
        while len(self.in_flight) < self.window:
            item = self.buffer.pop()
            if item is None:
                return
            self._seq += 1
            seq = self._seq
            self.in_flight[seq] = self.clock()
            try:
                self._producer.produce(item.topic, key=item.key, value=item.value,
                                       headers=item.headers,
                                       on_delivery=self._delivery(seq, item.description))
            except BufferError:  # librdkafka's own queue full: cannot happen below window
                del self.in_flight[seq]
                log.error("producer queue full; %s dropped", item.description)
                self.failed += 1
                return

    def _delivery(self, seq: int, description: str) -> Callable[[KafkaError | None, Message],
                                                                 None]:
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            self.in_flight.pop(seq, None)
            if err is None:
                self.delivered += 1
                self._brokers_down = False
            else:  # permanent (message.timeout.ms is infinite): e.g. topic gone, too big
                self.failed += 1
                log.error("Kafka refused %s: %s; the event is lost, publishing goes on",
                          description, err)
        return on_delivery

    def _on_error(self, err: KafkaError) -> None:
        # librdkafka repeats transport errors every reconnect: log the outage once.
        if err.code() == KafkaError._ALL_BROKERS_DOWN and not self._brokers_down:
            self._brokers_down = True
            log.error("Kafka: all brokers down (%s); calls go on, events are buffered "
                      "(bound %d) and retried", err, self.buffer.bound)
        else:
            log.debug("Kafka client: %s", err)
