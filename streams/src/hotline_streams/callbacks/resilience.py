"""What a failure means and what follows: retry it a few times, park it, or dead-letter it.

A failure is *transient* when the same step can succeed later unchanged (Cassandra or
Kafka unavailable, slow or overloaded, a compare-and-set whose result stayed unknown):
it is retried a bounded number of times with backoff (tenacity), then left for later
(the next tick, or the parked events). Anything else (a value the contract or the
schema refuses, a bug) will fail the same way every time: the event goes to its
topic's dead letters with the reason, and the consumer goes on.

Every wait here is on the ``stopping`` event, so SIGTERM ends a retry at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from cassandra import (
    ConsistencyLevel,
    CoordinationFailure,
    OperationTimedOut,
    Timeout,
    Unavailable,
)
from cassandra.cluster import NoHostAvailable
from cassandra.connection import ConnectionException
from cassandra.protocol import ErrorMessage
from confluent_kafka import KafkaError, KafkaException, Message, Producer
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential_jitter,
)

from hotline_events.catalog import Catalog
from hotline_events.producer import PRODUCER_DEFAULTS, ProducerError
from hotline_streams.callbacks.store import StoreError

log = logging.getLogger("hotline_streams.callbacks")

T = TypeVar("T")

# Server errors worth another try: unavailable, overloaded, bootstrapping, write and
# read timeout, read and write failure, CAS result unknown.
_TRANSIENT_CODES = frozenset({0x1000, 0x1001, 0x1002, 0x1100, 0x1200, 0x1300, 0x1500, 0x1700})
_TRANSIENT = (Unavailable, Timeout, OperationTimedOut, NoHostAvailable, CoordinationFailure,
              ConnectionException, StoreError, ProducerError, KafkaException, BufferError)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ErrorMessage):
        return exc.code in _TRANSIENT_CODES
    return isinstance(exc, _TRANSIENT)


def local_datacenter_lost(exc: BaseException) -> bool:
    """Cassandra says this site's own datacenter cannot serve (no coordinator, or too
    few live replicas for a LOCAL_* consistency): what it shows when it is back may be
    the stale side of a takeover (``ownership``)."""
    if isinstance(exc, NoHostAvailable):
        return True
    return isinstance(exc, Unavailable) and _name(exc.consistency).startswith("LOCAL_")


def describe(exc: BaseException, datacenter: str, down: Iterable[str] = ()) -> str:
    """A failure as an SRE reads it: which consistency, which datacenter, how many
    replicas; ``down`` are the datacenters whose nodes the driver sees down."""
    gone = sorted(set(down))
    where = f"; datacenters seen down: {', '.join(gone)}" if gone else ""
    if isinstance(exc, Unavailable):
        level = _name(exc.consistency)
        scope = f"in {datacenter}" if level.startswith("LOCAL_") else "across datacenters"
        return (f"Cassandra cannot achieve {level} {scope} ({exc.alive_replicas} of "
                f"{exc.required_replicas} replicas alive){where}")
    if isinstance(exc, Timeout):
        return (f"Cassandra {type(exc).__name__} at {_name(getattr(exc, 'consistency', None))} "
                f"from {datacenter}: {getattr(exc, 'received_responses', '?')} of "
                f"{getattr(exc, 'required_responses', '?')} replicas answered in time{where}")
    if isinstance(exc, NoHostAvailable):
        return f"no Cassandra coordinator in {datacenter} answers{where}"
    if isinstance(exc, OperationTimedOut):
        return f"Cassandra did not answer in time (from {datacenter}){where}"
    return f"{type(exc).__name__}: {exc}"


def _name(level: Any) -> str:
    return str(ConsistencyLevel.value_to_name.get(level, level))


def retrying(stopping: threading.Event, attempts: int, *, first_wait_s: float = 0.1,
             max_wait_s: float = 2.0) -> Retrying:
    """Up to ``attempts`` tries of a transient failure, backing off with jitter; the
    last failure (or the first permanent one) is raised. SIGTERM ends the waiting."""

    def sleep(seconds: float) -> None:
        stopping.wait(seconds)

    return Retrying(stop=stop_after_attempt(attempts) | stop_when_event_set(stopping),
                    wait=wait_exponential_jitter(multiplier=first_wait_s, max=max_wait_s,
                                                jitter=first_wait_s),
                    retry=retry_if_exception(is_transient), sleep=sleep, reraise=True)


def guarded(stopping: threading.Event, attempts: int, what: Callable[[], str],
            action: Callable[[], T], on_failure: Callable[[BaseException], None]) -> T | None:
    """Run one callback's step with bounded retries; a failure is reported and skipped
    (the next tick tries again) so that it never holds up the other callbacks."""
    try:
        return retrying(stopping, attempts)(action)
    except Exception as exc:
        if stopping.is_set():
            return None
        on_failure(exc)
        log.error("%s failed%s: %s; the other callbacks go on, the next tick tries again",
                  what(), f" after {attempts} tries" if is_transient(exc) else " (not a "
                  "passing failure)", exc, exc_info=not is_transient(exc))
        return None


class DeadLetters:
    """Records no retry will ever process, to ``<topic>.deadletter`` (as the contract
    consumer does with records that break the contract) with the reason in headers."""

    def __init__(self, bootstrap: str, catalog: Catalog, group: str,
                 timeout_s: float = 10.0) -> None:
        self.catalog = catalog
        self.group = group
        self.timeout_s = timeout_s
        self._producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
        self.sent = 0

    def send(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes,
             headers: Sequence[tuple[str, bytes | str]], reason: str) -> str:
        """Produce and wait for the acknowledgement; raises ``ProducerError`` if Kafka
        did not take it (the caller keeps the record and tries again)."""
        target = self.catalog.topic(topic).dead_letter_name
        failures: list[str] = []

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(str(err))

        extra = [("dlq_error", reason), ("dlq_source_topic", topic),
                 ("dlq_source_partition", str(partition)), ("dlq_source_offset", str(offset)),
                 ("dlq_consumer_group", self.group)]
        self._producer.produce(target, key=key, value=value,
                               headers=[(k, v.encode() if isinstance(v, str) else v)
                                        for k, v in (*headers, *extra)],
                               on_delivery=on_delivery)
        if self._producer.flush(self.timeout_s) or failures:
            raise ProducerError(f"dead-lettering {topic}[{partition}]@{offset} to {target} "
                                f"failed: {failures[0] if failures else 'no acknowledgement'}")
        self.sent += 1
        return target
