"""The peer's agents folded from its mirrored events, and what to publish here (pure).

Two rules, the same at every site:
- **restore**: an agent whose desktop reconnects here after their site was lost logs
  in here with the peer's skills and goes on in the state the peer last saw (ready, not
  ready with its reason, wrap-up of their call; a call they were talking on went down
  with the peer's media, so they wrap it up here);
- **the latest login wins**: an agent logged in here who logged in at a peer later
  (their desktop moved, or the peer restored them while this site was lost) is logged
  out here, so no two sites offer them calls. A site that comes back with stale agents
  drops them this way.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from hotline_events.envelope import Event
from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    WrapUpEnded,
    WrapUpStarted,
)
from hotline_events.models.calls import CallAnswered, CallCompleted
from hotline_streams.peer_agents.models import PeerAgent
from hotline_streams.routing.models import Agent, AgentState

LOGIN_REASON = "logged-in"  # the routing state's reason right after a login
MOVED = uuid.UUID("5a0f4d54-8f3c-4a53-9c55-3b5f4d8b2a11")  # namespace of the logouts' ids

Restored = AgentLoggedIn | AgentReady | AgentNotReady | WrapUpStarted


def after(agent: PeerAgent | None, event: Event) -> PeerAgent | None:
    """The agent after one of the peer's agent or call events (``None``: never logged
    in). Events older than the agent's state change nothing: the agent and
    call topics are mirrored separately, so their records interleave late."""
    data = event.data
    at = event.time.timestamp()
    if isinstance(data, AgentLoggedIn):
        if agent is not None and at < agent.state_at:
            return agent
        return PeerAgent(tenant=data.tenant, agent_id=data.agent_id, site=data.site,
                         skills=data.skills, languages=data.languages, senior=data.senior,
                         logged_in_at=at, state=AgentState.NOT_READY, state_at=at,
                         reason=LOGIN_REASON)
    if agent is None or at < agent.state_at or agent.state is AgentState.LOGGED_OUT:
        return agent
    if isinstance(data, AgentLoggedOut):
        # Kept as logged out: a login older than this, read late, changes nothing.
        return replace(agent, state=AgentState.LOGGED_OUT, state_at=at, reason=None,
                       call_id=None)
    busy = agent.state is AgentState.BUSY
    if isinstance(data, AgentReady) and not busy:
        return replace(agent, state=AgentState.READY, state_at=at, reason=None, call_id=None)
    if isinstance(data, AgentNotReady) and not busy:
        return replace(agent, state=AgentState.NOT_READY, state_at=at, reason=data.reason,
                       call_id=None)
    if isinstance(data, WrapUpStarted):
        return replace(agent, state=AgentState.WRAP_UP, state_at=at, reason=None,
                       call_id=data.call_id)
    if isinstance(data, WrapUpEnded) and agent.call_id in (None, data.call_id):
        return replace(agent, state=AgentState.READY, state_at=at, reason=None, call_id=None)
    if isinstance(data, CallAnswered):
        return replace(agent, state=AgentState.BUSY, state_at=at, reason=None,
                       call_id=data.call_id)
    if isinstance(data, CallCompleted) and busy and agent.call_id == data.call_id:
        return replace(agent, state=AgentState.WRAP_UP, state_at=at)
    return agent


def agent_of(event: Event) -> str | None:
    """The agent an event is about (agent events, and call events naming an agent)."""
    return getattr(event.data, "agent_id", None)


def restore(agent: PeerAgent, site: str) -> list[Restored]:
    """What to publish here so the agent goes on as the peer last saw them (an agent
    logged out there is not restored: nothing)."""
    if agent.state is AgentState.LOGGED_OUT:
        return []
    ids = {"agent_id": agent.agent_id, "tenant": agent.tenant}
    out: list[Restored] = [AgentLoggedIn(**ids, site=site, skills=agent.skills,
                                         languages=agent.languages, senior=agent.senior)]
    if agent.state is AgentState.READY:
        out.append(AgentReady(**ids))
    elif agent.state is AgentState.NOT_READY and agent.reason not in (None, LOGIN_REASON):
        out.append(AgentNotReady(**ids, reason=agent.reason))
    elif agent.state in (AgentState.BUSY, AgentState.WRAP_UP) and agent.call_id is not None:
        out.append(WrapUpStarted(**ids, call_id=agent.call_id))
    return out


def moved_away(local: Agent, peer: PeerAgent) -> bool:
    """Logged in here, and later at the peer: the latest login wins."""
    return local.logged_in_at is not None and peer.logged_in_at > local.logged_in_at


def logout_for_move(local: Agent, peer: PeerAgent) -> tuple[AgentLoggedOut, str]:
    """The logout here of an agent who moved to the peer (staffed here until they logged
    in there), and its id: the same for the same move, so a repeat is a duplicate."""
    assert local.logged_in_at is not None
    staffed = max(0.0, peer.logged_in_at - local.logged_in_at)
    event_id = str(uuid.uuid5(MOVED, f"{local.tenant}/{local.agent_id}/{peer.site}/"
                                     f"{peer.logged_in_at:.6f}"))
    return (AgentLoggedOut(agent_id=local.agent_id, tenant=local.tenant,
                           staffed_seconds=round(staffed, 3)), event_id)
