"""Every record the worker writes (outputs, re-keyed events, ticks, changelog checkpoints)
goes through one confluent-kafka producer, acknowledged as asyncio futures.

Why: faust's own producer path (its buffer, then aiokafka's pure-Python batching and
protocol encoding) cost about a fifth of the worker's CPU under load in
benchmarks/streams_sla.py; librdkafka batches and encodes in C, in its own threads.
Records keep faust's partitioning: keys hash with Java's murmur2, as aiokafka does, so
a tenant's re-keyed events and its ticks share a partition. Changelog records name
their partition. Producer settings: idempotent, ``acks=all`` (DESIGN.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

log = logging.getLogger("hotline_streams.outbox")

Headers = Sequence[tuple[str, bytes]]


class Outbox:
    def __init__(self, bootstrap: str, client_id: str, linger_ms: float = 1.0) -> None:
        self._producer = Producer({
            "bootstrap.servers": bootstrap, "client.id": client_id,
            "enable.idempotence": True, "acks": "all",
            "linger.ms": linger_ms,  # routing latency: a decision waits at most this long
            "partitioner": "murmur2_random",  # aiokafka's (Java's) murmur2 for keyed records
            "compression.type": "lz4",
        })
        self._loop: asyncio.AbstractEventLoop | None = None
        self._delivered: list[tuple[asyncio.Future[None], KafkaError | None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._poller = threading.Thread(target=self._poll, name="outbox-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        """librdkafka calls the delivery callbacks from ``poll``; their results go to the
        event loop in one hop per poll, not one per record."""
        while not self._stop.is_set():
            self._producer.poll(0.05)
            with self._lock:
                done, self._delivered = self._delivered, []
            if done and self._loop is not None:
                self._loop.call_soon_threadsafe(self._resolve, done)

    @staticmethod
    def _resolve(done: list[tuple[asyncio.Future[None], KafkaError | None]]) -> None:
        for future, error in done:
            if future.done():
                continue
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(KafkaException(error))

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Headers = (),
             partition: int | None = None) -> asyncio.Future[None]:
        """Queue one record; the future resolves once Kafka acknowledged it."""
        if self._loop is None:
            self._start()
        assert self._loop is not None
        future: asyncio.Future[None] = self._loop.create_future()

        def delivered(error: KafkaError | None, message: Message) -> None:
            with self._lock:
                self._delivered.append((future, error))

        extra: dict[str, Any] = {} if partition is None else {"partition": partition}
        while True:
            try:
                self._producer.produce(topic, value=value, key=key, headers=list(headers),
                                       on_delivery=delivered, **extra)
                return future
            except BufferError:
                # librdkafka's queue is full (Kafka down or far behind): wait for room;
                # the inputs stay un-acked meanwhile, so nothing is lost.
                log.warning("outbox: producer queue full writing to %s; waiting for Kafka",
                            topic)
                self._producer.poll(0.5)

    def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued (up to ``timeout_s``), then stop the poller."""
        left = self._producer.flush(timeout_s)
        if left:
            log.warning("outbox: %d record(s) not delivered at shutdown; their inputs are "
                        "not acked and will be processed again", left)
        self._stop.set()
