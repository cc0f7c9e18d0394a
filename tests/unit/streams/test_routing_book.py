"""Routing from decoded events: agent state, decisions, and replays that change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    SkillLevel,
    WrapUpEnded,
    WrapUpStarted,
)
from hotline_events.models.calls import AgentNoAnswer, CallAbandoned, CallAnswered, CallQueued
from hotline_events.models.routing import RoutingDecision
from hotline_streams.config.loader import parse
from hotline_streams.routing.book import RoutingBook, new_book, step
from hotline_streams.routing.models import AgentState

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
CONFIG = parse({"tenant": "bank", "queues": {
    "cards": {"required_skills": ["cards"], "ring_timeout_s": 600,
              "overflow": [{"after_s": 60, "required_skills": ["general"]}]}}})


def ev(data: EventModel, second: float) -> Event:
    return Event(data=data, source="//hotline/site-a/test/unit",
                 time=DAY + timedelta(seconds=second))


def login(agent: str, second: float, **skills: int) -> Event:
    return ev(AgentLoggedIn(agent_id=agent, tenant="bank", site="site-a", skills=tuple(
        SkillLevel(skill=s, proficiency=p) for s, p in skills.items())), second)


def ready(agent: str, second: float) -> Event:
    return ev(AgentReady(agent_id=agent, tenant="bank"), second)


def queued(call: str, second: float, tier: str = "standard") -> Event:
    return ev(CallQueued(call_id=call, tenant="bank", queue="cards", caller_tier=tier,  # type: ignore[arg-type]
                         enqueued_at=DAY + timedelta(seconds=second)), second)


def run(events: list[Event], book: RoutingBook | None = None,
        ) -> tuple[RoutingBook, list[RoutingDecision], list[str]]:
    book = book or new_book("bank")
    decisions: list[RoutingDecision] = []
    ids: list[str] = []
    for event in events:
        book, out = step(book, event, CONFIG, "site-a")
        decisions += [d for d, _, _ in out if isinstance(d, RoutingDecision)]
        ids += [i for d, i, _ in out if isinstance(d, RoutingDecision)]
    return book, decisions, ids


def pairs(decisions: list[RoutingDecision]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decisions]


def test_vip_first_then_proficiency_then_longest_idle() -> None:
    events = [queued("std", 0), queued("vip", 5, "vip"),
              login("a1", 1, cards=2), login("a2", 2, cards=5),
              ready("a1", 10)]  # one agent: the VIP who came later goes first
    book, decisions, _ = run(events)
    assert pairs(decisions) == [("vip", "a1")]
    assert decisions[0].rule == "vip-first"
    book, decisions, _ = run([ready("a2", 11)], book)
    assert pairs(decisions) == [("std", "a2")]
    assert decisions[0].waited_seconds == 11
    # both busy; two fresh agents of equal proficiency: the longest idle wins
    book, decisions, _ = run([login("a3", 12, cards=3), login("a4", 12, cards=3),
                              ready("a4", 13), ready("a3", 14), queued("c3", 20)], book)
    assert pairs(decisions) == [("c3", "a4")]
    # a proficient agent beats a longer-idle one
    book, decisions, _ = run([login("a5", 21, cards=4), ready("a5", 30), queued("c4", 31)],
                             book)
    assert pairs(decisions) == [("c4", "a5")]
    assert decisions[0].candidates == 2  # a3 and a5 were ready


def test_an_agent_never_gets_two_contacts_and_a_contact_is_offered_once() -> None:
    book, decisions, _ = run([login("a1", 0, cards=3), ready("a1", 1), queued("c1", 2),
                              queued("c2", 3), ready("a1", 4)])  # ready again while reserved
    assert pairs(decisions) == [("c1", "a1")]
    assert book.state.agents["a1"].state is AgentState.RESERVED
    assert book.state.contacts["c2"].offered_to is None


def test_replaying_events_yields_no_new_decision() -> None:
    events = [login("a1", 0, cards=3), ready("a1", 1), queued("c1", 2),
              ev(CallAnswered(call_id="c1", tenant="bank", queue="cards", agent_id="a1",
                              wait_seconds=1), 3),
              ev(WrapUpStarted(agent_id="a1", tenant="bank", call_id="c1"), 60),
              ev(WrapUpEnded(agent_id="a1", tenant="bank", call_id="c1", wrap_up_seconds=5), 65)]
    book, decisions, _ = run(events)
    assert pairs(decisions) == [("c1", "a1")]
    again, decisions, _ = run(events, book)  # same ids: a mirrored/failover replay
    assert decisions == []
    assert again.state == book.state
    # a re-published `queued` of a finished call with a new event id is ignored too
    _, decisions, _ = run([queued("c1", 2)], book)
    assert decisions == []


def test_decisions_are_deterministic_so_a_crash_repeats_the_same_id() -> None:
    events = [login("a1", 0, cards=3), ready("a1", 1), queued("c1", 2)]
    _, first, ids_first = run(events)
    _, second, ids_second = run(events)
    assert ids_first == ids_second and first == second


def test_ring_no_answer_puts_the_contact_back_at_the_head() -> None:
    book, decisions, _ = run([login("a1", 0, cards=3), ready("a1", 1), queued("c1", 2),
                              queued("c2", 3)])
    assert pairs(decisions) == [("c1", "a1")]
    book, decisions, _ = run([ev(AgentNoAnswer(call_id="c1", tenant="bank", queue="cards",
                                               agent_id="a1", ring_seconds=15), 17)], book)
    assert decisions == []
    assert book.state.agents["a1"].state is AgentState.NOT_READY
    assert book.state.agents["a1"].not_ready_reason == "ring-no-answer"
    book, decisions, _ = run([login("a2", 18, cards=1), ready("a2", 19)], book)
    assert pairs(decisions) == [("c1", "a2")]  # back at the head, before c2


def test_overflow_after_the_wait_accepts_secondary_skills() -> None:
    book, decisions, _ = run([queued("c1", 0), login("g1", 1, general=3), ready("g1", 2)])
    assert decisions == []  # 2 s waited: cards only
    book, decisions, _ = run([ev(AgentNotReady(agent_id="g1", tenant="bank", reason="break"),
                                 59), ready("g1", 61)], book)
    assert pairs(decisions) == [("c1", "g1")]
    assert decisions[0].rule == "overflow"


def test_abandon_while_ringing_frees_the_agent_and_logout_returns_the_contact() -> None:
    book, _, _ = run([login("a1", 0, cards=3), ready("a1", 1), queued("c1", 2)])
    book, _, _ = run([ev(CallAbandoned(call_id="c1", tenant="bank", stage="ringing",
                                       queue="cards", wait_seconds=4), 6)], book)
    assert book.state.agents["a1"].state is AgentState.READY
    assert "c1" not in book.state.contacts
    book, decisions, _ = run([queued("c2", 7)], book)
    assert pairs(decisions) == [("c2", "a1")]
    book, _, _ = run([ev(AgentLoggedOut(agent_id="a1", tenant="bank", staffed_seconds=9), 9)],
                     book)
    assert "a1" not in book.state.agents
    assert book.state.contacts["c2"].offered_to is None


def test_a_replay_from_an_older_offset_changes_nothing() -> None:
    events = [login("a1", 0, cards=3), ready("a1", 1), queued("c1", 2), queued("c2", 3)]
    book = new_book("bank")
    for offset, event in enumerate(events):
        book, _ = step(book, event, CONFIG, "site-a", (0, offset))
    for offset, event in enumerate(events[1:], start=1):  # crash: offsets 1.. come again
        again, out = step(book, event, CONFIG, "site-a", (0, offset))
        assert out == [] and again == book
    assert book.applied == {0: 3}


TIMED = parse({"tenant": "bank", "queues": {
    "cards": {"required_skills": ["cards"], "ring_timeout_s": 15,
              "overflow": [{"after_s": 60, "required_skills": ["general"]},
                           {"after_s": 120, "to_queue": "general"}]},
    "general": {"required_skills": ["general"]},
    "claims": {"required_skills": ["claims"]}}})
WALL = 1_800_000_000.0  # the Kafka timestamps of the input records (wall clock)


def timed(book: RoutingBook, event: Event | None, wall: float,
          ) -> tuple[RoutingBook, list[RoutingDecision], list[AgentNotReady]]:
    book, out = step(book, event, TIMED, "site-a", None, wall)
    return (book, [d for d, _, _ in out if isinstance(d, RoutingDecision)],
            [d for d, _, _ in out if isinstance(d, AgentNotReady)])


def test_a_tick_times_out_an_unanswered_offer_and_the_contact_goes_back_first() -> None:
    book = new_book("bank")
    for n, event in enumerate([login("a1", 0, cards=3), ready("a1", 1), queued("c1", 2),
                               queued("c2", 3)]):
        book, decisions, _ = timed(book, event, WALL + n * 0.01)
    assert book.state.contacts["c1"].offered_to == "a1"
    book, decisions, rona = timed(book, None, WALL + 10)  # 10 s of ringing: not yet
    assert decisions == [] and rona == []
    book, decisions, rona = timed(book, None, WALL + 15.5)  # past the 15 s ring timeout
    assert [(r.agent_id, r.reason) for r in rona] == [("a1", "ring-no-answer")]
    assert book.state.agents["a1"].state is AgentState.NOT_READY
    assert book.state.contacts["c1"].offered_to is None
    book, decisions, _ = timed(book, login("a2", 20, cards=1), WALL + 16)
    book, decisions, _ = timed(book, ready("a2", 21), WALL + 17)
    assert pairs(decisions) == [("c1", "a2")]  # back at the head, before c2
    # a replayed tick at the same time changes nothing
    again, decisions, rona = timed(book, None, WALL + 17)
    assert decisions == [] and rona == [] and again.state == book.state


def test_ticks_relax_overflow_rules_after_their_wait_without_a_new_event() -> None:
    book = new_book("bank")
    for n, event in enumerate([login("g1", 0, general=2), ready("g1", 1), queued("c1", 2),
                               login("x1", 0, claims=4), ready("x1", 1)]):
        book, decisions, _ = timed(book, event, WALL + n * 0.01)
    assert decisions == []
    book, decisions, _ = timed(book, None, WALL + 50)  # 48 s waited: cards only
    assert decisions == []
    book, decisions, _ = timed(book, None, WALL + 62.5)  # 60.5 s: secondary skills
    assert pairs(decisions) == [("c1", "g1")]
    assert decisions[0].rule == "overflow" and decisions[0].waited_seconds >= 60


def test_a_late_agent_no_answer_does_not_hit_the_next_agent() -> None:
    book, _, _ = run([login("a1", 0, cards=3), ready("a1", 1), queued("c1", 2)])
    book, _, _ = run([ev(AgentNoAnswer(call_id="c1", tenant="bank", queue="cards",
                                       agent_id="a1", ring_seconds=15), 17),
                      login("a2", 18, cards=1), ready("a2", 19)], book)
    assert book.state.contacts["c1"].offered_to == "a2"
    book, _, _ = run([ev(AgentNoAnswer(call_id="c1", tenant="bank", queue="cards",
                                       agent_id="a1", ring_seconds=15), 20)], book)
    assert book.state.contacts["c1"].offered_to == "a2"
    assert book.state.agents["a2"].state is AgentState.RESERVED
