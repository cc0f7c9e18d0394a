"""What a simulated agent desktop publishes, as plain functions over events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hotline_events.models import EventModel
from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentReady,
    SkillLevel,
    WrapUpEnded,
    WrapUpStarted,
)
from hotline_events.models.calls import CallCompleted


@dataclass(frozen=True)
class DemoAgent:
    agent_id: str
    skills: tuple[tuple[str, int], ...]  # (skill, proficiency 1-5)


def parse_skills(text: str) -> tuple[tuple[str, int], ...]:
    """``general:3,cards:5`` → ((general, 3), (cards, 5)); proficiency defaults to 3."""
    out = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        skill, _, level = item.partition(":")
        out.append((skill, int(level) if level else 3))
    if not out:
        raise ValueError("an agent needs at least one skill")
    return tuple(out)


def agents(prefix: str, count: int, skills: tuple[tuple[str, int], ...]) -> list[DemoAgent]:
    return [DemoAgent(f"{prefix}{i:03d}", skills) for i in range(1, count + 1)]


def log_in(tenant: str, site: str, team: Iterable[DemoAgent]) -> list[EventModel]:
    events: list[EventModel] = []
    for a in team:
        events.append(AgentLoggedIn(
            agent_id=a.agent_id, tenant=tenant, site=site, languages=("en",),
            skills=tuple(SkillLevel(skill=s, proficiency=p) for s, p in a.skills)))
        events.append(AgentReady(agent_id=a.agent_id, tenant=tenant))
    return events


def after_call(data: EventModel, tenant: str, ours: set[str], now: float,
               wrap_up_seconds: float) -> list[tuple[float, EventModel]]:
    """(due time, event) to publish when one of our agents' calls completed."""
    if not (isinstance(data, CallCompleted) and data.tenant == tenant
            and data.agent_id in ours):
        return []
    agent_id = data.agent_id
    assert agent_id is not None
    return [(now, WrapUpStarted(agent_id=agent_id, tenant=tenant, call_id=data.call_id)),
            (now + wrap_up_seconds, WrapUpEnded(agent_id=agent_id, tenant=tenant,
                                                call_id=data.call_id,
                                                wrap_up_seconds=wrap_up_seconds))]


# --- agent users (the desktop over the agent API) -------------------------------------

READY_IN_FLIGHT_S = 10.0  # a ready request's event reaches the routing state within this


def desktop_step(state: str | None, wrap_up_seen_at: float | None, now: float,
                 wrap_up_seconds: float, ready_requested_at: float | None = None) -> str | None:
    """What an agent user's desktop does next, given the state the agent API reports:
    ``wrap-up-done`` once the wrap-up has lasted ``wrap_up_seconds``, ``ready`` when the
    agent is not ready (unless a ready request is still in flight: asking twice races the
    router, which may have offered a call meanwhile), else nothing (None)."""
    if state == "wrap-up":
        if wrap_up_seen_at is not None and now - wrap_up_seen_at >= wrap_up_seconds:
            return "wrap-up-done"
        return None
    if state == "not-ready":
        in_flight = ready_requested_at is not None and now - ready_requested_at < \
            READY_IN_FLIGHT_S
        return None if in_flight else "ready"
    return None  # ready, reserved (ringing), busy (the phone and the caller act) or unknown


def all_skills(queue_skills: Iterable[Iterable[str]], proficiency: int = 3) -> dict[str, int]:
    """Every queue's skills: an agent user can take any queue's callers."""
    return {skill: proficiency for skills in queue_skills for skill in skills}
