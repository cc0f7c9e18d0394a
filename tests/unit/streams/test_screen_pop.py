"""Screen pop: a call's tier, IVR path and the caller's previous contacts, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.calls import CallCompleted, CallOffered, CallQueued, IvrSelection
from hotline_streams.screen_pop.logic import fold_context, fold_history
from hotline_streams.screen_pop.models import CallContext, CallerHistory

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
TOKEN = "ct1_" + "ab" * 32


def ev(data: EventModel, second: float) -> Event:
    return Event(data=data, source="//hotline/site-a/test/unit",
                 time=DAY + timedelta(seconds=second))


def call(call_id: str, start: float) -> list[Event]:
    return [
        ev(CallOffered(call_id=call_id, tenant="bank", site="site-a", media_node="m1",
                       dialled_number="4008001234", caller_token=TOKEN), start),
        ev(IvrSelection(call_id=call_id, tenant="bank", menu_id="main", level=1, option="2",
                        target="queue:cards", elapsed_seconds=4), start + 4),
        ev(CallQueued(call_id=call_id, tenant="bank", queue="cards", caller_tier="vip",
                      enqueued_at=DAY + timedelta(seconds=start + 5)), start + 5),
        ev(CallCompleted(call_id=call_id, tenant="bank", queue="cards", agent_id="a1",
                         talk_seconds=60, hold_seconds=0, wrap_up_seconds=10,
                         disposition="resolved", ended_by="caller"), start + 90)]


def run(events: list[Event]) -> tuple[dict[str, CallContext], CallerHistory | None]:
    contexts: dict[str, CallContext] = {}
    history: CallerHistory | None = None
    for event in events:
        call_id = event.data.call_id  # type: ignore[attr-defined]
        folded = fold_context(contexts.get(call_id), event)
        assert folded is not None
        contexts[call_id] = folded
        history = fold_history(history, folded, event)
    return contexts, history


def test_context_and_history_of_two_calls_from_one_caller() -> None:
    first, second = call("c1", 0), call("c2", 600)
    contexts, history = run(first + second[:3])
    c2 = contexts["c2"]
    assert (c2.tier, c2.queue, c2.caller_token) == ("vip", "cards", TOKEN)
    assert [(c.menu_id, c.option, c.target) for c in c2.ivr_path] == [("main", "2", "queue:cards")]
    assert history is not None and [c.call_id for c in history.contacts] == ["c1"]


def test_replays_change_nothing() -> None:
    events = call("c1", 0)
    contexts, history = run(events + events)
    assert len(contexts["c1"].ivr_path) == 1
    assert history is not None and len(history.contacts) == 1
