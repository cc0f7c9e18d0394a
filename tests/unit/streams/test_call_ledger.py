"""The call ledger and the SLA interval book over a small hand-computed event log.

Queue ``billing``: T = 20 s, short abandon ≤ 5 s, 15-minute intervals from 09:00.

    call  queued    outcome                           interval
    c1    09:00:10  answered after 15 s, handle 150   09:00  (within T)
    c2    09:05:00  abandoned after 3 s               09:00  (short abandon)
    c3    09:10:00  abandoned after 40 s              09:00
    c4    09:14:50  answered after 40 s at 09:15:30   09:00  (edge; a late correction)
    c5    09:15:00  answered after exactly 20 s       09:15  (within T: ≤)
    c6    09:15:30  callback requested at 09:16       09:15  (not an abandon)
    c7    —         hung up in the IVR                —      (never offered)

09:00 → offered 4, answered 2 (1 within T), abandoned 2 (1 short, 1 within T):
SL = 1 / (2 + 2 - 1) = 1/3, ASA = (15 + 40) / 2 = 27.5, abandon rate = 1 / 3, AHT = 150.
09:15 → offered 2, answered 1 within T, 1 callback: SL = 1, ASA = 20, abandon rate 0.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import AgentReady
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallCompleted, CallQueued
from hotline_streams.config.loader import parse
from hotline_streams.config.models import TenantConfig
from hotline_streams.ledger.logic import call_id_of, changes, fold, outcomes, replay
from hotline_streams.ledger.models import CallEntry
from hotline_streams.service_levels.adapters import on_event, on_tick, to_event
from hotline_streams.service_levels.intervals import Emit, SlaBook
from hotline_streams.service_levels.logic import by_interval, figures
from hotline_streams.service_levels.models import IntervalCounts, Outcome

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
T0 = DAY.timestamp()
TOKEN = "ct1_" + "ab" * 32
CONFIG = parse({"tenant": "acme", "queues": {"billing": {"required_skills": ["billing"]}}})


def at(minutes: int, seconds: int = 0) -> datetime:
    return DAY + timedelta(minutes=minutes, seconds=seconds)


def ev(data: EventModel, time: datetime) -> Event:
    return Event(data=data, source="//hotline/site-a/test/unit", time=time)


def queued(call: str, time: datetime) -> Event:
    return ev(CallQueued(call_id=call, tenant="acme", queue="billing", enqueued_at=time), time)


def answered(call: str, time: datetime, wait: float) -> Event:
    return ev(CallAnswered(call_id=call, tenant="acme", queue="billing", agent_id="a1",
                           wait_seconds=wait), time)


def abandoned(call: str, time: datetime, wait: float, stage: str = "queue") -> Event:
    return ev(CallAbandoned(call_id=call, tenant="acme", stage=stage,  # type: ignore[arg-type]
                            queue="billing" if stage == "queue" else None,
                            wait_seconds=wait), time)


def completed(call: str, time: datetime) -> Event:
    return ev(CallCompleted(call_id=call, tenant="acme", queue="billing", agent_id="a1",
                            talk_seconds=100, hold_seconds=20, wrap_up_seconds=30,
                            disposition="resolved", ended_by="caller"), time)


LOG = [
    queued("c1", at(0, 10)), answered("c1", at(0, 25), 15), completed("c1", at(3)),
    queued("c2", at(5)), abandoned("c2", at(5, 3), 3),
    queued("c3", at(10)), abandoned("c3", at(10, 40), 40),
    queued("c4", at(14, 50)),
    queued("c5", at(15)), answered("c5", at(15, 20), 20),
    answered("c4", at(15, 30), 40),
    queued("c6", at(15, 30)),
    ev(CallbackRequested(callback_id="cb6", call_id="c6", tenant="acme", queue="billing",
                         reason="caller-request", caller_token=TOKEN,
                         original_enqueued_at=at(15, 30)), at(16)),
    abandoned("c7", at(20), 0, stage="ivr"),
    ev(AgentReady(agent_id="a1", tenant="acme"), at(30)),
]


def run(events: list[Event], config: TenantConfig = CONFIG, grace_s: float = 3600,
        book: SlaBook | None = None, ledger: dict[str, CallEntry] | None = None,
        first_offset: int | None = None,
        ) -> tuple[SlaBook, dict[str, CallEntry], list[Emit], int]:
    """What the stream worker does per event, over a list (at offsets from
    ``first_offset`` of partition 0, if given)."""
    book = book or SlaBook(tenant="acme")
    ledger = dict(ledger or {})
    emits: list[Emit] = []
    dropped = 0
    for n, event in enumerate(events):
        call = call_id_of(event)
        position = None if first_offset is None else (0, first_offset + n)
        book, entry, out, lost = on_event(book, ledger.get(call) if call else None, event,
                                          config, grace_s, position)
        if call is not None and entry is not None:
            ledger[call] = entry
        emits += out
        dropped += lost
    return book, ledger, emits, dropped


def latest(emits: list[Emit]) -> dict[float, Emit]:
    return {e.interval.start: e for e in emits}


def test_ledger_outcomes_of_the_log() -> None:
    ledger = replay(LOG)
    assert "c7" not in ledger or outcomes(ledger["c7"]) == {}  # IVR hang-up: never offered
    got = {call: outcomes(entry)["billing"] for call, entry in ledger.items()
           if outcomes(entry)}
    assert {c: (o.outcome, o.wait_s, o.handle_s, o.enqueued_at - T0) for c, o in got.items()} == {
        "c1": (Outcome.ANSWERED, 15, 150, 10),
        "c2": (Outcome.ABANDONED, 3, 0, 300),
        "c3": (Outcome.ABANDONED, 40, 0, 600),
        "c4": (Outcome.ANSWERED, 40, 0, 890),
        "c5": (Outcome.ANSWERED, 20, 0, 900),
        "c6": (Outcome.CALLBACK, 30, 0, 930),
    }


def test_every_figure_of_both_intervals() -> None:
    _, _, emits, dropped = run(LOG)
    assert dropped == 0
    last = latest(emits)
    assert sorted(last) == [T0, T0 + 900]
    first = to_event(last[T0], "acme", "site-a", CONFIG.settings("billing"))[0]
    assert (first.final, first.offered, first.answered, first.answered_within_threshold,
            first.abandoned, first.abandoned_within_threshold, first.short_abandons,
            first.callback_requests) == (True, 4, 2, 1, 2, 1, 1, 0)
    assert first.service_level == pytest.approx(1 / 3)
    assert first.asa_seconds == pytest.approx(27.5)
    assert first.abandon_rate == pytest.approx(1 / 3)
    assert first.aht_seconds == pytest.approx(150)
    assert first.interval_start == DAY and first.interval_seconds == 900
    assert first.abandon_treatment == "against"
    second = to_event(last[T0 + 900], "acme", "site-a", CONFIG.settings("billing"))[0]
    assert (second.final, second.offered, second.answered, second.answered_within_threshold,
            second.abandoned, second.callback_requests) == (True, 2, 1, 1, 0, 1)
    assert second.service_level == 1.0
    assert second.asa_seconds == 20
    assert second.abandon_rate == 0.0


def test_the_interval_is_final_when_it_closes_and_corrected_by_a_late_outcome() -> None:
    _, _, emits, _ = run(LOG)
    of_first = [(e.final, e.interval.counts.offered) for e in emits if e.interval.start == T0]
    # provisional while open; final once 09:15:00 is seen (c4 still waiting: 3 offered);
    # c4's answer at 09:15:30 corrects the closed interval, still final.
    assert of_first == [(False, 1), (False, 1), (False, 2), (False, 3), (True, 3), (True, 4)]
    of_second = [e.final for e in emits if e.interval.start == T0 + 900]
    assert of_second[-1] is True and not any(of_second[:-1])  # closed by the 09:30 event


def test_streaming_counts_equal_the_batch_form() -> None:
    book, ledger, _, _ = run(LOG)
    contacts = [o for entry in ledger.values() for o in outcomes(entry).values()]
    batch = by_interval(contacts, CONFIG.settings("billing"))
    assert {iv.start: iv.counts for iv in book.intervals.values()} == batch


def test_replaying_the_whole_log_changes_nothing() -> None:
    book, ledger, _, _ = run(LOG, first_offset=0)
    again, ledger_again, emits, _ = run(LOG, book=book, ledger=ledger, first_offset=0)
    assert emits == []
    assert again.intervals == book.intervals
    assert ledger_again == ledger


def test_replay_with_new_event_ids_is_still_idempotent_per_call() -> None:
    """A mirrored copy of an event carries the same id, but a re-published one may not:
    the ledger's per-call fold must absorb it."""
    book, ledger, _, _ = run(LOG)
    fresh = [replace(e, id=str(uuid.uuid4())) for e in LOG]
    again, _, _, _ = run(fresh, book=book, ledger=ledger)
    assert {k: v.counts for k, v in again.intervals.items()} == \
        {k: v.counts for k, v in book.intervals.items()}


def test_a_book_ahead_of_its_ledger_does_not_count_twice() -> None:
    """Crash after the book was stored but before the call's ledger entry: the replayed
    event is recognised by its offset in the book, and the ledger still catches up."""
    book, ledger, _, _ = run(LOG[:4], first_offset=0)  # c1 answered and completed, c2 queued
    crash_event = abandoned("c2", at(5, 3), 3)
    book_after, ledger_after, _, _ = run([crash_event], book=book, ledger=ledger,
                                         first_offset=4)
    # replay from offset 3 against the stale ledger (c2 still waiting in it)
    replayed, ledger_replayed, emits, _ = run([LOG[3], crash_event], book=book_after,
                                              ledger=ledger, first_offset=3)
    assert emits == []
    assert replayed.intervals == book_after.intervals
    assert ledger_replayed == ledger_after
    # without the offset check the same replay would count c2's abandon twice
    doubled, _, _, _ = run([crash_event], book=book_after, ledger=ledger)
    assert doubled.intervals != book_after.intervals


def test_outcome_later_than_the_grace_period_is_dropped() -> None:
    events = [queued("c1", at(0)), ev(AgentReady(agent_id="a1", tenant="acme"), at(40)),
              answered("c1", at(41), 2460)]
    book, _, emits, dropped = run(events, grace_s=600)
    assert dropped == 1
    assert emits == [] and book.intervals == {}


def test_first_outcome_wins_and_completion_sets_handle_time_once() -> None:
    entry = None
    for event in (queued("c1", at(0)), answered("c1", at(0, 5), 5),
                  abandoned("c1", at(0, 6), 6), completed("c1", at(2)), completed("c1", at(2))):
        entry = fold(entry, event)
    assert entry is not None
    (only,) = outcomes(entry).values()
    assert (only.outcome, only.wait_s, only.handle_s) == (Outcome.ANSWERED, 5, 150)


def test_answer_without_its_queued_event_opens_the_visit_at_time_minus_wait() -> None:
    entry = fold(None, answered("c9", at(16), 90))
    assert entry is not None
    assert outcomes(entry)["billing"].enqueued_at == T0 + 16 * 60 - 90  # 09:14:30 → 09:00
    assert changes(None, entry)[0][0] is None


def test_callback_keeps_original_enqueue_and_automatic_callback_is_not_an_outcome() -> None:
    auto = ev(CallbackRequested(callback_id="cb1", call_id="c1", tenant="acme", queue="billing",
                                reason="abandoned-auto", caller_token=TOKEN,
                                original_enqueued_at=at(0)), at(1))
    entry = fold(fold(None, queued("c1", at(0))), auto)
    assert entry is not None and outcomes(entry) == {}


def test_figures_counts_subtract_a_replaced_outcome() -> None:
    """A corrected outcome of one contact replaces, not adds (handle time known later)."""
    events = [queued("c1", at(0)), answered("c1", at(0, 10), 10), completed("c1", at(3))]
    book, _, _, _ = run(events)
    (interval,) = book.intervals.values()
    assert interval.counts == IntervalCounts(offered=1, answered=1, answered_within_t=1,
                                             answered_wait_s=10, handle_s=150, handled=1)
    fig = figures(interval.counts, CONFIG.settings("billing"), interval.start)
    assert fig.aht_s == 150


def test_batched_provisional_emits_wait_for_the_tick_and_finals_do_not() -> None:
    def batched(events: list[Event], book: SlaBook, first: int) -> tuple[SlaBook, list[Emit]]:
        emits: list[Emit] = []
        for n, event in enumerate(events, start=first):
            call = call_id_of(event)
            book, entry, out, _ = on_event(book, ledger.get(call) if call else None, event,
                                           CONFIG, 3600, (0, n), WALL + min(n, 99),
                                           emit_provisional=False)
            if call is not None and entry is not None:
                ledger[call] = entry
            emits += out
        return book, emits

    ledger: dict[str, CallEntry] = {}
    open_events = [e for e in LOG if e.time.timestamp() < T0 + 900]
    book, emits = batched(open_events, SlaBook(tenant="acme"), 0)
    assert emits == []  # the interval is open: its updates wait for the tick
    last = WALL + len(open_events) - 1  # a tick right after the last event: still open
    book, ticked = on_tick(book, CONFIG, 3600, (0, 100), last)
    assert [(e.final, e.interval.start) for e in ticked] == [(False, T0)]
    book, again = on_tick(book, CONFIG, 3600, (0, 101), last)
    assert again == []  # nothing changed since the last tick
    _, emits = batched(LOG[len(open_events):], book, 200)
    assert emits and all(e.final for e in emits)  # finals (and corrections) at once


WALL = 1_800_000_000.0
