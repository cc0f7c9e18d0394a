"""Agent state: login (skills, languages), ready, not-ready, wrap-up, logout.

Keyed by ``tenant`` on ``cc.agent.events``: routing is a per-tenant decision, so
its inputs (agent state changes and routing decisions) share one partition order.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from hotline_events.models._base import (
    AgentId,
    CallId,
    EventModel,
    Language,
    Seconds,
    Site,
    Skill,
    Tenant,
)


class SkillLevel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """A skill an agent has, and how well."""

    skill: Skill
    proficiency: Annotated[int, msgspec.Meta(ge=1, le=5, description="1 (novice) to 5 (expert).")]


class AgentEvent(EventModel, frozen=True, kw_only=True):
    SUBJECT: ClassVar[str] = "agent_id"

    agent_id: AgentId
    tenant: Tenant


class AgentLoggedIn(AgentEvent, frozen=True, kw_only=True):
    """An agent logged in with their skills and languages."""

    TYPE: ClassVar[str] = "hotline.agent.logged-in.v1"
    site: Site
    skills: tuple[SkillLevel, ...]
    languages: tuple[Language, ...] = ()
    senior: Annotated[bool, msgspec.Meta(description="Takes VIP callers first.")] = False


class AgentLoggedOut(AgentEvent, frozen=True, kw_only=True):
    """An agent logged out."""

    TYPE: ClassVar[str] = "hotline.agent.logged-out.v1"
    staffed_seconds: Annotated[float, msgspec.Meta(
        ge=0, description="Logged-in time of the session (occupancy's denominator).")]


class AgentReady(AgentEvent, frozen=True, kw_only=True):
    """The agent can take calls."""

    TYPE: ClassVar[str] = "hotline.agent.ready.v1"


class AgentNotReady(AgentEvent, frozen=True, kw_only=True):
    """The agent is logged in but not taking calls."""

    TYPE: ClassVar[str] = "hotline.agent.not-ready.v1"
    reason: Annotated[str, msgspec.Meta(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="e.g. `break`, `lunch`, `training`.")]


class WrapUpStarted(AgentEvent, frozen=True, kw_only=True):
    """The agent's call ended and after-call work began."""

    TYPE: ClassVar[str] = "hotline.agent.wrap-up-started.v1"
    call_id: CallId


class WrapUpEnded(AgentEvent, frozen=True, kw_only=True):
    """After-call work ended."""

    TYPE: ClassVar[str] = "hotline.agent.wrap-up-ended.v1"
    call_id: CallId
    wrap_up_seconds: Seconds


TYPES: tuple[type[EventModel], ...] = (
    AgentLoggedIn, AgentLoggedOut, AgentReady, AgentNotReady, WrapUpStarted, WrapUpEnded,
)
