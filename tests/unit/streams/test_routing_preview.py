"""Agent-first preview in routing: the agent offered or accepting a callback is held for
it (no other caller reaches them), the callback's call goes to that agent, and every way
the callback can end without reaching them frees the agent again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import AgentLoggedIn, AgentReady, SkillLevel
from hotline_events.models.callbacks import (
    CallbackCancelled,
    CallbackFailed,
    CallbackPreviewAnswered,
    CallbackPreviewOffered,
)
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallQueued
from hotline_events.models.routing import RoutingDecision
from hotline_streams import codec
from hotline_streams.config.loader import parse
from hotline_streams.routing.book import RoutingBook, new_book, step
from hotline_streams.routing.logic import CALLBACK_HOLD_MAX_S
from hotline_streams.routing.models import AgentState, RoutingState, free_index

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
CONFIG = parse({"tenant": "bank", "queues": {
    "cards": {"required_skills": ["cards"], "ring_timeout_s": 600}}})


def ev(data: EventModel, second: float) -> Event:
    return Event(data=data, source="//hotline/site-a/test/unit",
                 time=DAY + timedelta(seconds=second))


def agent(agent_id: str, second: float) -> list[Event]:
    return [ev(AgentLoggedIn(agent_id=agent_id, tenant="bank", site="site-a",
                             skills=(SkillLevel(skill="cards", proficiency=3),)), second),
            ev(AgentReady(agent_id=agent_id, tenant="bank"), second)]


def offered(agent_id: str, second: float, callback: str = "cb-1") -> Event:
    return ev(CallbackPreviewOffered(
        callback_id=callback, call_id="c-orig", tenant="bank", queue="cards",
        agent_id=agent_id, attempt=1, dial_by=DAY + timedelta(seconds=second + 20)), second)


def answered(agent_id: str, decision: str, second: float, callback: str = "cb-1") -> Event:
    return ev(CallbackPreviewAnswered(
        callback_id=callback, call_id="c-orig", tenant="bank", agent_id=agent_id,
        attempt=1, decision=decision), second)  # type: ignore[arg-type]


def queued(call: str, second: float, reserved: str | None = None,
           enqueued: float | None = None) -> Event:
    at = DAY + timedelta(seconds=second if enqueued is None else enqueued)
    return ev(CallQueued(call_id=call, tenant="bank", queue="cards", enqueued_at=at,
                         callback_id="cb-1" if reserved else None,
                         reserved_agent_id=reserved), second)


def run(events: list[Event], book: RoutingBook | None = None,
        ) -> tuple[RoutingBook, list[RoutingDecision]]:
    book = book or new_book("bank")
    decisions: list[RoutingDecision] = []
    for event in events:
        book, out = step(book, event, CONFIG, "site-a")
        decisions += [d for d, _, _ in out if isinstance(d, RoutingDecision)]
    assert_index_consistent(book.state)
    return book, decisions


def assert_index_consistent(state: RoutingState) -> None:
    assert state.free == free_index(state.agents.values())


def offers(decisions: list[RoutingDecision]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions]


def test_an_agent_previewing_a_callback_is_not_offered_another_caller() -> None:
    book, decisions = run([*agent("a1", 0), *agent("a2", 5), offered("a1", 10),
                           queued("c-1", 11)])
    # a1 is the longest idle, but holds the callback: the caller goes to a2.
    assert offers(decisions) == [("c-1", "a2")]
    held = book.state.agents["a1"]
    assert (held.state, held.contact) == (AgentState.RESERVED, "callback:cb-1")
    _, more = run([queued("c-2", 12)], book)
    assert more == []  # nobody free: c-2 waits rather than reaching a1


def test_the_accepted_callbacks_call_goes_to_the_reserving_agent_before_the_queue() -> None:
    book, _ = run([*agent("a1", 0), offered("a1", 10), answered("a1", "accepted", 15),
                   queued("c-early", 16)])
    assert book.state.contacts["c-early"].offered_to is None  # waits: a1 is held
    # The callback's call keeps a later place in line, yet goes to a1 at once.
    book, decisions = run([queued("out-1", 40, reserved="a1", enqueued=30)], book)
    assert offers(decisions) == [("out-1", "a1")] and decisions[0].rule == "reserved-agent"
    a1 = book.state.agents["a1"]
    assert (a1.state, a1.contact) == (AgentState.RESERVED, "out-1")
    book, _ = run([ev(CallAnswered(call_id="out-1", tenant="bank", queue="cards",
                                   agent_id="a1", wait_seconds=10), 45)], book)
    assert book.state.agents["a1"].state is AgentState.BUSY
    assert "c-early" in book.state.contacts and "out-1" not in book.state.contacts


def test_the_reserved_agent_gets_the_call_even_when_another_agent_is_idle_longer() -> None:
    # The preview timed out (no hold seen), the agent is free: still offered to them.
    _, decisions = run([*agent("a1", 0), *agent("a2", 5), queued("out-1", 40, reserved="a2")])
    assert offers(decisions) == [("out-1", "a2")]


@pytest.mark.parametrize("ending", [
    answered("a1", "rejected", 20),
    ev(CallbackFailed(callback_id="cb-1", call_id="c-orig", tenant="bank", attempt=1,
                      reason="no-answer", will_retry=True), 20),
    ev(CallbackCancelled(callback_id="cb-1", call_id="c-orig", tenant="bank",
                         reason="expired"), 20),
], ids=["rejected", "failed", "cancelled"])
def test_a_preview_ending_without_a_call_frees_the_agent(ending: Event) -> None:
    book, _ = run([*agent("a1", 0), offered("a1", 10), answered("a1", "accepted", 12)])
    assert book.state.agents["a1"].state is AgentState.RESERVED
    book, decisions = run([ending, queued("c-1", 21)], book)
    assert offers(decisions) == [("c-1", "a1")]


def test_the_callbacks_call_abandoned_while_ringing_the_reserved_agent_frees_them() -> None:
    book, decisions = run([*agent("a1", 0), answered("a1", "accepted", 12),
                           queued("out-1", 30, reserved="a1")])
    assert offers(decisions) == [("out-1", "a1")]
    book, decisions = run([ev(CallAbandoned(call_id="out-1", tenant="bank", queue="cards",
                                            stage="queue", wait_seconds=5), 35),
                           queued("c-2", 36)], book)
    assert offers(decisions) == [("c-2", "a1")]


def test_a_hold_whose_end_was_missed_expires_on_a_tick() -> None:
    book, _ = run(agent("a1", 0))
    # The hold's event arrives with its Kafka timestamp: ticks move "now" on from there.
    book, _ = step(book, offered("a1", 10), CONFIG, "site-a", wall_s=DAY.timestamp() + 10)
    book, _ = step(book, None, CONFIG, "site-a", wall_s=(DAY.timestamp() + 10
                                                         + CALLBACK_HOLD_MAX_S / 2))
    assert book.state.agents["a1"].state is AgentState.RESERVED
    book, _ = step(book, None, CONFIG, "site-a", wall_s=(DAY.timestamp() + 11
                                                         + CALLBACK_HOLD_MAX_S))
    assert book.state.agents["a1"].state is AgentState.READY
    assert_index_consistent(book.state)


def test_an_agent_on_another_call_is_not_held_and_the_callback_falls_back() -> None:
    book, decisions = run([*agent("a1", 0), queued("c-1", 1), offered("a1", 10),
                           answered("a1", "accepted", 12)])
    assert offers(decisions) == [("c-1", "a1")]
    assert book.state.agents["a1"].contact == "c-1"  # never two contacts
    book, decisions = run([*agent("a2", 20), queued("out-1", 30, reserved="a1")], book)
    assert offers(decisions) == [("out-1", "a2")]  # normal routing


def test_a_replayed_accept_or_queue_offers_the_call_once() -> None:
    events = [*agent("a1", 0), offered("a1", 10), answered("a1", "accepted", 12),
              queued("out-1", 30, reserved="a1")]
    book, decisions = run(events)
    again, more = run(events, book)
    assert offers(decisions) == [("out-1", "a1")] and more == []
    assert again.state.agents["a1"].contact == "out-1"


def test_a_checkpointed_book_keeps_the_hold_and_the_reservation() -> None:
    book, _ = run([*agent("a1", 0), *agent("a2", 1), offered("a1", 10),
                   ev(AgentReady(agent_id="a2", tenant="bank"), 2)])
    book, _ = run([ev(CallQueued(call_id="out-9", tenant="bank", queue="cards",
                                 enqueued_at=DAY, callback_id="cb-9",
                                 reserved_agent_id="a9"), 12)], book)
    loaded = codec.load(codec.dump(book), RoutingBook)
    assert loaded.state.agents["a1"].contact == "callback:cb-1"
    out9 = loaded.state.contacts["out-9"]
    assert (out9.callback_id, out9.reserved_for, out9.offered_to) == ("cb-9", "a9", "a2")
    assert_index_consistent(loaded.state)
