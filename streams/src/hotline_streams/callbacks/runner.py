"""The scheduler's loop: poll an event, handle it, tick; never stuck on one event.

An event is handled with a few retries (``resilience``). One that still fails for a
passing reason (Cassandra unavailable for that write) is *parked* in Cassandra with
its record and retried by later ticks with backoff, and the consumer goes on; one
that can never be handled (or is still failing after ``give_up_after_s``) goes to its
topic's dead letters with the reason. Only when not even parking works (this site's
Cassandra is away altogether) does the consumer wait on that event: nothing could be
stored anyway, and its offset must not move past it.

SIGTERM ends every wait at once: an event in hand that was not handled is not
committed (read again after the restart; handlers are idempotent).
"""

from __future__ import annotations

import logging
import threading
import time

from hotline_events.consumer import ContractConsumer, Received
from hotline_events.envelope import decode, encode, header_map
from hotline_events.models.metrics import QueueStatistics
from hotline_streams.callbacks.resilience import (
    DeadLetters,
    describe,
    is_transient,
    retrying,
)
from hotline_streams.callbacks.scheduler import Scheduler
from hotline_streams.callbacks.store import Parked
from hotline_streams.callbacks.web import Health

log = logging.getLogger("hotline_streams.callbacks")

HANDLE_ATTEMPTS = 3
BACKOFF_MAX_S = 10.0
PARKED_EVERY_S = 1.0
PARKED_PER_TURN = 20
GIVE_UP_AFTER_S = 3600.0


class Runner:
    def __init__(self, scheduler: Scheduler, consumer: ContractConsumer,
                 dead_letters: DeadLetters, health: Health, *, tick_s: float,
                 give_up_after_s: float = GIVE_UP_AFTER_S) -> None:
        self.scheduler = scheduler
        self.store = scheduler.store
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.health = health
        self.tick_s = tick_s
        self.give_up_after_s = give_up_after_s
        self.stopping: threading.Event = scheduler.stopping
        self.event_problem: str | None = None
        self.parked = 0
        self._next_parked = 0.0

    def run(self) -> None:
        next_tick = 0.0
        handled_all = True
        try:
            while not self.stopping.is_set():
                self.health.last_turn = time.monotonic()
                received = self.consumer.poll(min(self.tick_s, 0.2))
                if received is not None:
                    if not self._handle(received):
                        handled_all = False
                        break
                    if isinstance(received.event.data, QueueStatistics):
                        next_tick = 0.0  # an agent may have come free: dial without waiting
                if time.monotonic() >= next_tick:
                    self._tick()
                    next_tick = time.monotonic() + self.tick_s
            if handled_all:
                self.consumer.commit()
        finally:
            self.consumer.close()

    # -- events ------------------------------------------------------------------------

    def _handle(self, received: Received) -> bool:
        """Handle, park or dead-letter the event; False if stopped before any of them."""
        event = received.event
        what = f"{event.type} {event.id} (subject {event.subject})"
        try:
            retrying(self.stopping, HANDLE_ATTEMPTS)(self.scheduler.handle, event)
            self.event_problem = None
            return True
        except Exception as exc:
            if self.stopping.is_set():
                log.warning("stopping with %s not handled: it is read again after the "
                            "restart", what)
                return False
            failure = exc
        self.scheduler.ownership.lost_local(failure)
        reason = self._why(failure)
        if not is_transient(failure):
            log.error("%s cannot be handled (%s); dead-lettering it, the consumer goes on",
                      what, reason, exc_info=failure)
            return self._until_done(what, lambda: self._dead_letter(received, reason))
        self.event_problem = f"{what}: {reason}"
        log.error("%s could not be handled after %d tries: %s; parking it in Cassandra for "
                  "later ticks, the consumer goes on", what, HANDLE_ATTEMPTS, reason)
        return self._until_done(what, lambda: self._park(received, reason))

    def _until_done(self, what: str, step: object) -> bool:
        """Park or dead-letter, waiting as long as that fails (nothing could be stored
        then; the offset must not pass the event). False if stopped meanwhile."""
        delay = 0.5
        while not self.stopping.is_set():
            try:
                step()  # type: ignore[operator]
                return True
            except Exception as exc:
                self.event_problem = (f"{what} can be neither handled nor set aside: "
                                      f"{self._why(exc)}")
                self._report()
                log.error("%s; the consumer waits on it, retrying in %.1f s", self.event_problem,
                          delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
        log.warning("stopping with %s not set aside: it is read again after the restart", what)
        return False

    def _park(self, received: Received, reason: str) -> None:
        key, value, headers = encode(received.event, catalog=self.consumer.catalog,
                                     validate=False)
        now = time.time()
        self.store.park(Parked(
            event_id=received.event.id, topic=received.topic, partition=received.partition,
            offset=received.offset, key=received.key if received.key is not None else key,
            value=value, headers=header_map(headers), reason=reason,
            attempts=HANDLE_ATTEMPTS, parked_at=now, next_at=now + 1.0))
        self.parked += 1

    def _dead_letter(self, received: Received, reason: str) -> None:
        key, value, headers = encode(received.event, catalog=self.consumer.catalog,
                                     validate=False)
        target = self.dead_letters.send(received.topic, received.partition, received.offset,
                                        received.key if received.key is not None else key,
                                        value, list(header_map(headers).items()), reason)
        log.warning("%s %s (%s[%d]@%d) dead-lettered to %s: %s", received.event.type,
                    received.event.id, received.topic, received.partition, received.offset,
                    target, reason)

    # -- time --------------------------------------------------------------------------

    def _tick(self) -> None:
        try:
            self.scheduler.tick()
        except Exception:  # a bug: tick() isolates every failure it expects
            log.exception("the scheduling tick failed unexpectedly; the next tick tries again")
        if time.monotonic() >= self._next_parked:
            self._next_parked = time.monotonic() + PARKED_EVERY_S
            self._retry_parked()
        self._report()

    def _retry_parked(self) -> None:
        try:
            parked = self.store.parked()
        except Exception as exc:
            log.error("reading the parked events failed: %s; tried again in %.0f s",
                      describe(exc, self.scheduler.datacenter), PARKED_EVERY_S)
            return
        self.parked = len(parked)
        now = time.time()
        for item in [p for p in parked if p.next_at <= now][:PARKED_PER_TURN]:
            if self.stopping.is_set():
                return
            try:
                self._retry_one(item, now)
            except Exception as exc:  # parked rows or dead letters unwritable: next turn
                log.error("parked event %s: %s; tried again on a later tick", item.event_id,
                          describe(exc, self.scheduler.datacenter))

    def _retry_one(self, item: Parked, now: float) -> None:
        what = f"parked event {item.event_id} ({item.headers.get('ce_type', '?')})"
        try:
            event = decode(item.headers, item.value)
            retrying(self.stopping, 2)(self.scheduler.handle, event)
        except Exception as exc:
            if self.stopping.is_set():
                return
            reason = self._why(exc)
            waited = now - item.parked_at
            if is_transient(exc) and waited < self.give_up_after_s:
                delay = min(2.0 ** min(item.attempts, 10), 60.0)
                self.store.retry_later(item, reason, now + delay)
                log.warning("%s still fails (%s); tried again in %.0f s", what, reason, delay)
                return
            reason = (reason if not is_transient(exc) else
                      f"still failing after {waited:.0f} s and {item.attempts + 1} tries: {reason}")
            target = self.dead_letters.send(item.topic, item.partition, item.offset, item.key,
                                            item.value, list(item.headers.items()), reason)
            self.store.unpark(item)
            log.error("%s dead-lettered to %s: %s", what, target, reason)
            return
        self.store.unpark(item)
        log.info("%s handled after %d tries (parked %.0f s ago)", what, item.attempts + 1,
                 now - item.parked_at)

    def _why(self, exc: BaseException) -> str:
        return describe(exc, self.scheduler.datacenter, self.scheduler.down_datacenters())

    def _report(self) -> None:
        health, scheduler = self.health, self.scheduler
        health.last_tick_ok = scheduler.last_tick_ok
        health.problem = self.event_problem or scheduler.tick_problem
        health.not_dialling = (None if scheduler.ownership.may_dial
                               else scheduler.ownership.not_dialling)
        health.warning = scheduler.ownership.warning
        health.last_failure = scheduler.last_failure
        health.counts = {"parked_events": self.parked,
                         "dead_lettered": self.dead_letters.sent
                         + self.consumer.dead_lettered,
                         "requests_waiting_for_number": scheduler.inbox_waiting,
                         "stale_adoptions_refused": scheduler.ownership.refused}
