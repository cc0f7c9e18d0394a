"""Routing decisions: which agent gets which waiting call, and why."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from hotline_events.models._base import (
    AgentId,
    CallId,
    Count,
    EventModel,
    Id,
    Queue,
    Seconds,
    Site,
    Skill,
    Tenant,
)


class RoutingDecision(EventModel, frozen=True, kw_only=True):
    """Routing assigned a waiting call to an agent (the media node bridges them)."""

    TYPE: ClassVar[str] = "hotline.routing.decision.v1"
    SUBJECT: ClassVar[str] = "call_id"
    decision_id: Id
    call_id: CallId
    tenant: Tenant
    queue: Queue
    agent_id: AgentId
    site: Annotated[Site, msgspec.Meta(description="The site whose media node bridges.")]
    rule: Annotated[str, msgspec.Meta(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="The rule that chose, e.g. `vip-senior`, `most-skilled`, `longest-idle`.")]
    matched_skills: tuple[Skill, ...] = ()
    waited_seconds: Seconds
    candidates: Annotated[Count, msgspec.Meta(description="Ready agents considered.")]
    agent_uri: Annotated[str, msgspec.Meta(
        pattern=r"^sips?:[^\s<>\"]{1,250}$",
        description="The SIP URI of the agent's phone the media node rings; absent: the "
                    "node's own agent-URI template (agent id in a URI) decides.")] | None = None


TYPES: tuple[type[EventModel], ...] = (RoutingDecision,)
