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
