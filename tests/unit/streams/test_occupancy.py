"""Occupancy from agent state (DESIGN.md: handle time ÷ staffed time) on a hand-computed
log, and as the SLA interval event carries it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentReady,
    SkillLevel,
    WrapUpEnded,
    WrapUpStarted,
)
from hotline_events.models.calls import CallAnswered, CallCompleted, CallQueued
from hotline_events.models.metrics import SlaInterval
from hotline_streams.config.models import QueueConfig, TenantConfig
from hotline_streams.ledger.models import CallEntry
from hotline_streams.routing.models import QueueRouting
from hotline_streams.service_levels.adapters import (
    agent_seconds,
    on_event,
    queue_skills,
    to_event,
)
from hotline_streams.service_levels.intervals import SlaBook
from hotline_streams.service_levels.models import AgentSeconds, Occupancy, QueueSettings
from hotline_streams.service_levels.occupancy import fold_agent, seconds_in, seconds_since
from hotline_streams.service_levels.windows import window, window_start

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)  # an interval boundary
S = T0.timestamp()
SOURCE = "//hotline/site-a/test/occupancy"
QUEUES = {"billing": (frozenset({"billing"}), 900), "general": (frozenset({"general"}), 900)}


def ev(data: EventModel, second: float) -> Event:
    return Event(data=data, source=SOURCE, time=T0 + timedelta(seconds=second))


def login(agent: str, skills: list[str], second: float) -> Event:
    return ev(AgentLoggedIn(agent_id=agent, tenant="acme", site="site-a",
                            skills=tuple(SkillLevel(skill=s, proficiency=3) for s in skills)),
              second)


def answer(agent: str, call: str, second: float) -> Event:
    return ev(CallAnswered(call_id=call, tenant="acme", queue="billing", agent_id=agent,
                           wait_seconds=5), second)


def completed(agent: str, call: str, second: float) -> Event:
    return ev(CallCompleted(call_id=call, tenant="acme", queue="billing", agent_id=agent,
                            talk_seconds=200, hold_seconds=0, wrap_up_seconds=100,
                            disposition="resolved", ended_by="caller"), second)


# a1 (billing): in at 0; talks 100-300, wraps up 300-400; answers again at 800 and logs
#   out at 1000 still on the call (100 s of it in each interval).
# a2 (billing + general): in 300-900, never on a call.
# a3 (general only): in from 0; not a billing agent.
LOG = [
    login("a1", ["billing"], 0), login("a3", ["general"], 0),
    answer("a1", "c1", 100), login("a2", ["billing", "general"], 300),
    completed("a1", "c1", 300),
    ev(WrapUpStarted(agent_id="a1", tenant="acme", call_id="c1"), 300),
    ev(WrapUpEnded(agent_id="a1", tenant="acme", call_id="c1", wrap_up_seconds=100), 400),
    ev(AgentReady(agent_id="a1", tenant="acme"), 400),
    answer("a1", "c2", 800),
    ev(AgentLoggedOut(agent_id="a2", tenant="acme", staffed_seconds=600), 900),
    ev(AgentLoggedOut(agent_id="a1", tenant="acme", staffed_seconds=1000), 1000),
]


def folded(events: list[Event]) -> Occupancy:
    occupancy = Occupancy()
    for event in events:
        occupancy = fold_agent(occupancy, event, QUEUES, keep_after=0.0)
    return occupancy


def through_the_book(events: list[Event],
                     config: TenantConfig) -> tuple[SlaBook, list[SlaInterval]]:
    """The events through an SLA book in order: the book and the final intervals."""
    book = SlaBook(tenant="acme")
    ledger: dict[str, CallEntry] = {}
    finals: list[SlaInterval] = []
    for n, event in enumerate(events):
        call: str = getattr(event.data, "call_id", "")
        book, entry, emits, _ = on_event(book, ledger.get(call), event, config, 3600.0,
                                         (0, n), emit_provisional=False)
        if call and entry is not None:
            ledger[call] = entry
        finals += [to_event(e, "acme", "site-a", config.settings(e.interval.queue),
                            agent_seconds(book, e, config))[0] for e in emits if e.final]
    return book, finals


def test_staffed_and_handling_seconds_by_hand() -> None:
    done = folded(LOG)
    # billing, first interval: staffed a1 900 + a2 600; handling a1 300 + 100
    assert seconds_in(done, "billing", S, QUEUES, S + 1000) == AgentSeconds(1500, 400)
    # billing, second interval: a1 100 s, all of it on the call
    assert seconds_in(done, "billing", S + 900, QUEUES, S + 1000) == AgentSeconds(100, 100)
    # general: a2 600 + a3 900 (a3 still logged in: counted up to "now"), no handling
    assert seconds_in(done, "general", S, QUEUES, S + 1000) == AgentSeconds(1500, 0)


def test_open_segments_count_up_to_now() -> None:
    """Read at 850 (a1 on its second call since 800, a2 in since 300): the occupancy so
    far of a provisional interval."""
    so_far = folded([e for e in LOG if e.time <= T0 + timedelta(seconds=800)])
    assert seconds_in(so_far, "billing", S, QUEUES, S + 850) == AgentSeconds(850 + 550,
                                                                              300 + 50)


def test_an_event_older_than_the_agents_clock_counts_at_that_clock() -> None:
    late = folded([login("a1", ["billing"], 0), answer("a1", "c1", 100),
                   ev(AgentReady(agent_id="a1", tenant="acme"), 50)])  # claims 50 s
    assert seconds_in(late, "billing", S, QUEUES, S + 200) == AgentSeconds(200, 0)


def test_a_replayed_agent_event_changes_nothing() -> None:
    """After a crash the intake may re-send events already folded: a late duplicate of
    a1's ready (400) must not end the call a1 answered at 800."""
    once = folded(LOG[:9])
    again = fold_agent(once, LOG[7], QUEUES, keep_after=0.0)  # a1's ready, replayed
    assert again is once
    assert seconds_in(again, "billing", S, QUEUES, S + 850).handling_s == 300 + 50


def test_the_sla_interval_carries_the_occupancy() -> None:
    """Through the SLA book: the final billing interval says (300 + 100) ÷ (900 + 600)."""
    config = TenantConfig(tenant="acme", queues={
        q: QueueConfig(queue=q, required_skills=frozenset({q}), settings=QueueSettings(queue=q),
                       routing=QueueRouting(queue=q)) for q in ("billing", "general")})
    assert queue_skills(config) == QUEUES
    events = [ev(CallQueued(call_id="c1", tenant="acme", queue="billing", enqueued_at=T0), 95),
              *LOG[:8], ev(CallQueued(call_id="c2", tenant="acme", queue="billing",
                                      enqueued_at=T0 + timedelta(seconds=795)), 795), *LOG[8:]]
    _, finals = through_the_book(sorted(events, key=lambda e: e.time), config)
    billing = [f for f in finals if f.queue == "billing" and f.interval_start == T0]
    assert len(billing) == 1
    assert billing[0].occupancy == pytest.approx(400 / 1500)


def test_a_queue_missing_from_the_tenant_file_gets_occupancy_from_its_calls() -> None:
    """No tenant file: the claims queue's skills come from its queued call, so a1
    (claims) staffs it and a3 (general) does not. a1 talks 100-400 of its 900 s."""
    config = TenantConfig(tenant="acme")
    events = [login("a1", ["claims"], 0), login("a3", ["general"], 0),
              ev(CallQueued(call_id="c1", enqueued_at=T0 + timedelta(seconds=90),
                            required_skills=("claims",), queue="claims", tenant="acme"), 90),
              ev(CallAnswered(call_id="c1", agent_id="a1", wait_seconds=10, queue="claims",
                              tenant="acme"), 100),
              ev(CallCompleted(call_id="c1", agent_id="a1", talk_seconds=300, hold_seconds=0,
                               wrap_up_seconds=0, disposition="resolved", ended_by="caller",
                               queue="claims", tenant="acme"), 400),
              ev(AgentReady(agent_id="a1", tenant="acme"), 400),
              ev(AgentLoggedOut(agent_id="a1", tenant="acme", staffed_seconds=900), 900),
              ev(AgentLoggedOut(agent_id="a3", tenant="acme", staffed_seconds=900), 900),
              ev(CallQueued(call_id="c2", enqueued_at=T0 + timedelta(seconds=1000),
                            required_skills=("claims",), queue="claims", tenant="acme"), 1000)]
    book, finals = through_the_book(events, config)
    assert book.learned_skills == {"claims": frozenset({"claims"})}
    first = [f for f in finals if f.queue == "claims" and f.interval_start == T0]
    assert len(first) == 1
    # a1's segment since logging in was still open when the queue became known: all of
    # its 900 s count, a3's none.
    assert first[0].occupancy == pytest.approx(300 / 900)


def test_sliding_windows_carry_the_occupancy_of_their_minutes() -> None:
    """Read at 850: the last 5 minutes are 600-850 (a1 ready 600-800 then on a call, a2
    staffed throughout); the last 60 minutes hold everything since 0."""
    so_far = folded([e for e in LOG if e.time <= T0 + timedelta(seconds=800)])
    now = S + 850
    assert window_start(now, 5) == S + 600
    assert seconds_since(so_far, "billing", S + 600, QUEUES, now) == AgentSeconds(500, 50)
    assert seconds_since(so_far, "billing", window_start(now, 60), QUEUES, now) == \
        AgentSeconds(850 + 550, 300 + 50)
    settings = QueueSettings(queue="billing")
    five = window({}, now, 5, settings, seconds_since(so_far, "billing", S + 600, QUEUES, now))
    assert five.occupancy == pytest.approx(50 / 500)
    assert window({}, now, 5, settings).occupancy is None  # no staffed time known: none
