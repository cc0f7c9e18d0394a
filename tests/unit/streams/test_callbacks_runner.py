"""The scheduler's loop with its I/O replaced: an event that fails for a passing reason
is parked and the consumer goes on; one that can never be handled is dead-lettered; a
parked event is handled later or given up on; SIGTERM ends a wait at once."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from cassandra import ConsistencyLevel, Unavailable

from hotline_events.catalog import default_catalog
from hotline_events.consumer import Received
from hotline_events.envelope import Event
from hotline_events.models.identity import CallerIdentified
from hotline_streams.callbacks.runner import Runner
from hotline_streams.callbacks.store import Parked
from hotline_streams.callbacks.web import Health

SOURCE = "//hotline/site-a/media-node/mn-0"
CATALOG = default_catalog()


def event(call_id: str) -> Received:
    data = CallerIdentified(call_id=call_id, tenant="acme", caller_number="+4930123456",
                            caller_token="ct1_" + "0" * 64)
    return Received(event=Event(data=data, source=SOURCE),
                    topic=CATALOG.topic_for_type(data.TYPE).name, partition=0, offset=7,
                    key=call_id.encode())


def unavailable() -> Unavailable:
    return Unavailable("Cannot achieve consistency level LOCAL_SERIAL",
                       consistency=ConsistencyLevel.LOCAL_SERIAL, required_replicas=1,
                       alive_replicas=0)


@dataclass
class FakeConsumer:
    queue: list[Received]
    stopping: threading.Event
    catalog: Any = CATALOG
    dead_lettered: int = 0
    committed: bool = False

    def poll(self, _timeout: float) -> Received | None:
        if not self.queue:
            self.stopping.set()  # everything read: the test's run ends here
            return None
        return self.queue.pop(0)

    def commit(self) -> None:
        self.committed = True

    def close(self) -> None:
        pass


@dataclass
class FakeStore:
    parked_events: dict[str, Parked] = field(default_factory=dict)
    failing: bool = False

    def park(self, parked: Parked) -> None:
        if self.failing:
            raise unavailable()
        self.parked_events[parked.event_id] = parked

    def parked(self) -> list[Parked]:
        return list(self.parked_events.values())

    def retry_later(self, parked: Parked, reason: str, next_at: float) -> None:
        self.parked_events[parked.event_id] = Parked(**{
            **parked.__dict__, "attempts": parked.attempts + 1, "reason": reason,
            "next_at": next_at})

    def unpark(self, parked: Parked) -> None:
        del self.parked_events[parked.event_id]


@dataclass
class FakeDeadLetters:
    letters: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)
    sent: int = 0

    def send(self, topic: str, _partition: int, _offset: int, _key: bytes | None,
             _value: bytes, headers: Any, reason: str) -> str:
        self.letters.append((dict(headers)["ce_id"], reason))
        self.sent += 1
        return topic + ".deadletter"


def runner(outcomes: dict[str, list[BaseException | None]], store: FakeStore,
           queue: list[Received], give_up_after_s: float = 3600.0
           ) -> tuple[Runner, FakeConsumer, FakeDeadLetters, list[str]]:
    """A runner whose scheduler raises, per call id, the next of ``outcomes`` (None: ok)."""
    stopping = threading.Event()
    handled: list[str] = []

    def handle(evt: Event) -> None:
        call_id = evt.data.call_id  # type: ignore[attr-defined]
        outcome = outcomes[call_id].pop(0) if outcomes[call_id] else None
        if outcome is not None:
            raise outcome
        handled.append(call_id)

    scheduler = SimpleNamespace(
        store=store, stopping=stopping, handle=handle, tick=lambda: 0, datacenter="dc-a",
        down_datacenters=lambda: (), last_tick_ok=time.monotonic(), tick_problem=None,
        last_failure=None,
        inbox_waiting=0, ownership=SimpleNamespace(
            lost_local=lambda _exc: None, may_dial=True, not_dialling=None, warning=None,
            refused=0))
    consumer = FakeConsumer(queue, stopping)
    letters = FakeDeadLetters()
    made = Runner(scheduler, consumer, letters, Health(), tick_s=0.05,  # type: ignore[arg-type]
                  give_up_after_s=give_up_after_s)
    return made, consumer, letters, handled


def test_a_passing_failure_is_parked_a_lasting_one_dead_lettered_and_the_rest_goes_on() -> None:
    store = FakeStore()
    queue = [event("down"), event("broken"), event("fine")]
    down_id, broken_id = queue[0].event.id, queue[1].event.id
    outcomes: dict[str, list[BaseException | None]] = {
        "down": [unavailable()] * 3, "broken": [ValueError("window ends before it starts")],
        "fine": []}
    run, consumer, letters, handled = runner(outcomes, store, queue)
    run.run()
    assert handled == ["fine"]
    assert [p.headers["ce_id"] for p in store.parked()] == [down_id]
    assert "LOCAL_SERIAL in dc-a" in store.parked()[0].reason
    assert letters.letters == [(broken_id, "ValueError: window ends before it starts")]
    assert consumer.committed  # every event was handled or set aside
    run.stopping.clear()  # the fake consumer stopped the run once all was read
    # A later tick handles the parked event (Cassandra is back) and removes it.
    parked = store.parked()[0]
    store.parked_events[parked.event_id] = Parked(**{**parked.__dict__, "next_at": 0.0})
    run._retry_parked()
    assert handled == ["fine", "down"] and store.parked() == []


def test_a_parked_event_still_failing_is_retried_later_then_given_up_on() -> None:
    store = FakeStore()
    queue = [event("down")]
    down_id = queue[0].event.id
    run, _consumer, letters, _handled = runner({"down": [unavailable()] * 100}, store, queue,
                                               give_up_after_s=3600.0)
    run.run()
    run.stopping.clear()  # the fake consumer stopped the run once all was read
    first = store.parked()[0]
    store.parked_events[first.event_id] = Parked(**{**first.__dict__, "next_at": 0.0})
    run._retry_parked()
    again = store.parked()[0]
    assert again.attempts == first.attempts + 1 and again.next_at > time.time()
    assert letters.letters == []
    # An hour on and still failing: dead-lettered with why, no longer parked.
    store.parked_events[again.event_id] = Parked(**{
        **again.__dict__, "next_at": 0.0, "parked_at": time.time() - 7200})
    run._retry_parked()
    assert store.parked() == []
    assert letters.letters[0][0] == down_id
    assert letters.letters[0][1].startswith("still failing after")


def test_sigterm_ends_the_wait_on_an_event_that_cannot_even_be_parked() -> None:
    store = FakeStore(failing=True)
    queue = [event("down"), event("later")]
    run, consumer, _letters, handled = runner({"down": [unavailable()] * 1000, "later": []},
                                              store, queue)
    stopped_at: list[float] = []

    def stop() -> None:
        stopped_at.append(time.monotonic())
        run.stopping.set()

    threading.Timer(1.5, stop).start()
    run.run()
    assert time.monotonic() - stopped_at[0] < 1.0
    assert handled == [] and not consumer.committed  # read again after the restart
    assert queue and queue[0].event.data.call_id == "later"  # type: ignore[attr-defined]
    assert run.health.problem is not None and "set aside" in run.health.problem
