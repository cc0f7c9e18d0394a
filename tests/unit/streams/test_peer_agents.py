"""A peer's agents from its mirrored events, restored on reconnect, and the latest
login winning across sites (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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
from hotline_events.models.calls import CallAnswered, CallCompleted
from hotline_streams.config.models import TenantConfig
from hotline_streams.peer_agents.logic import (
    after,
    logout_for_move,
    moved_away,
    restore,
)
from hotline_streams.peer_agents.models import PeerAgent
from hotline_streams.routing.book import fold
from hotline_streams.routing.models import Agent, AgentState, RoutingState

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SKILLS = (SkillLevel(skill="cards", proficiency=4), SkillLevel(skill="general", proficiency=2))


def ev(data: EventModel, second: float) -> Event:
    return Event(data=data, source="//hotline/site-b/test/unit",
                 time=DAY + timedelta(seconds=second))


def login(second: float, agent: str = "ann", site: str = "site-b") -> Event:
    return ev(AgentLoggedIn(agent_id=agent, tenant="bank", site=site, skills=SKILLS,
                            languages=("de",), senior=True), second)


def answered(call: str, second: float) -> Event:
    return ev(CallAnswered(call_id=call, tenant="bank", queue="cards", agent_id="ann",
                           wait_seconds=4.0), second)


def completed(call: str, second: float) -> Event:
    return ev(CallCompleted(call_id=call, tenant="bank", queue="cards", agent_id="ann",
                            talk_seconds=30, hold_seconds=0, wrap_up_seconds=0,
                            disposition="resolved", ended_by="caller"), second)


def folded(*events: Event) -> PeerAgent | None:
    agent: PeerAgent | None = None
    for event in events:
        agent = after(agent, event)
    return agent


def test_a_login_is_not_ready_until_ready() -> None:
    agent = folded(login(0))
    assert agent is not None
    assert (agent.state, agent.reason, agent.site, agent.logged_in_at) == (
        AgentState.NOT_READY, "logged-in", "site-b", DAY.timestamp())
    agent = folded(login(0), ev(AgentReady(agent_id="ann", tenant="bank"), 5))
    assert agent is not None and agent.state is AgentState.READY


def test_not_ready_keeps_its_reason() -> None:
    agent = folded(login(0), ev(AgentReady(agent_id="ann", tenant="bank"), 5),
                   ev(AgentNotReady(agent_id="ann", tenant="bank", reason="lunch"), 9))
    assert agent is not None and (agent.state, agent.reason) == (AgentState.NOT_READY, "lunch")


def test_a_call_answered_then_completed_is_wrap_up_of_that_call() -> None:
    agent = folded(login(0), ev(AgentReady(agent_id="ann", tenant="bank"), 5),
                   answered("call-1", 10))
    assert agent is not None and (agent.state, agent.call_id) == (AgentState.BUSY, "call-1")
    agent = after(agent, completed("call-1", 40))
    assert agent is not None and (agent.state, agent.call_id) == (AgentState.WRAP_UP, "call-1")
    agent = after(agent, ev(WrapUpEnded(agent_id="ann", tenant="bank", call_id="call-1",
                                        wrap_up_seconds=12), 52))
    assert agent is not None and (agent.state, agent.call_id) == (AgentState.READY, None)


def test_busy_ignores_ready_and_not_ready_like_routing_does() -> None:
    agent = folded(login(0), answered("call-1", 10),
                   ev(AgentNotReady(agent_id="ann", tenant="bank", reason="lunch"), 11))
    assert agent is not None and agent.state is AgentState.BUSY


def test_an_older_event_read_late_changes_nothing() -> None:
    """Agent and call topics are mirrored separately: a call's answer can be read after
    a later not-ready."""
    agent = folded(login(0), ev(AgentNotReady(agent_id="ann", tenant="bank", reason="lunch"),
                                30), answered("call-1", 10))
    assert agent is not None and (agent.state, agent.reason) == (AgentState.NOT_READY, "lunch")
    out = folded(login(0), ev(AgentLoggedOut(agent_id="ann", tenant="bank",
                                             staffed_seconds=60), 60), login(30))
    assert out is not None and out.state is AgentState.LOGGED_OUT


def test_logged_out_is_not_restored_and_unknown_agents_are_ignored() -> None:
    out = folded(login(0), ev(AgentLoggedOut(agent_id="ann", tenant="bank",
                                             staffed_seconds=60), 60))
    assert out is not None and out.state is AgentState.LOGGED_OUT
    assert restore(out, "site-a") == []
    again = after(out, login(90))
    assert again is not None and again.state is AgentState.NOT_READY
    assert folded(answered("call-1", 10)) is None
    assert folded(ev(AgentReady(agent_id="ann", tenant="bank"), 5)) is None


@pytest.mark.parametrize(("events", "types", "state"), [
    ([ev(AgentReady(agent_id="ann", tenant="bank"), 5)],
     [AgentLoggedIn, AgentReady], AgentState.READY),
    ([ev(AgentNotReady(agent_id="ann", tenant="bank", reason="lunch"), 5)],
     [AgentLoggedIn, AgentNotReady], AgentState.NOT_READY),
    ([], [AgentLoggedIn], AgentState.NOT_READY),
    ([answered("call-1", 10), completed("call-1", 40)],
     [AgentLoggedIn, WrapUpStarted], AgentState.WRAP_UP),
    # Talking when the peer was lost: the call went down with it; wrap it up here.
    ([answered("call-1", 10)], [AgentLoggedIn, WrapUpStarted], AgentState.WRAP_UP),
])
def test_restored_here_in_the_state_the_peer_last_saw(
        events: list[Event], types: list[type], state: AgentState) -> None:
    peer = folded(login(0), *events)
    assert peer is not None
    out = restore(peer, "site-a")
    assert [type(e) for e in out] == types
    login_here = out[0]
    assert isinstance(login_here, AgentLoggedIn)
    assert (login_here.site, login_here.skills, login_here.languages, login_here.senior) == (
        "site-a", SKILLS, ("de",), True)
    # Folded by this site's routing, the agent is where the peer left them.
    routing = RoutingState(tenant="bank")
    for n, data in enumerate(out):
        routing = fold(routing, ev(data, 100 + n), TenantConfig(tenant="bank"))
    agent = routing.agents["ann"]
    assert agent.state is state
    assert agent.not_ready_reason == peer.reason
    assert agent.contact == (peer.call_id if state is AgentState.WRAP_UP else None)


def local(logged_in_at: float | None) -> Agent:
    return Agent(agent_id="ann", tenant="bank", state=AgentState.READY, skills={"cards": 4},
                 logged_in_at=logged_in_at)


def test_the_latest_login_wins() -> None:
    peer = folded(login(100, site="site-a"))
    assert peer is not None
    here_before = local(DAY.timestamp() + 10)
    assert moved_away(here_before, peer)
    assert not moved_away(local(DAY.timestamp() + 200), peer)
    assert not moved_away(local(None), peer)
    data, event_id = logout_for_move(here_before, peer)
    assert isinstance(data, AgentLoggedOut)
    assert data.staffed_seconds == 90.0
    # The same move gives the same id: a repeat after a restart is a duplicate.
    assert logout_for_move(here_before, peer)[1] == event_id
    again = folded(login(300, site="site-a"))
    assert again is not None and logout_for_move(here_before, again)[1] != event_id
