"""Plain data: an agent as the peer site last saw them."""

from __future__ import annotations

from dataclasses import dataclass

from hotline_events.models.agents import SkillLevel
from hotline_streams.routing.models import AgentState

AgentKey = tuple[str, str]  # (tenant, agent id)


@dataclass(frozen=True)
class PeerAgent:
    tenant: str
    agent_id: str
    site: str  # where they logged in (the login's ``site``)
    skills: tuple[SkillLevel, ...]
    languages: tuple[str, ...]
    senior: bool
    logged_in_at: float  # the login's event time: the latest login wins across sites
    state: AgentState  # READY, NOT_READY, BUSY, WRAP_UP, LOGGED_OUT (offers are not followed)
    state_at: float  # event time of what set ``state``; older events do not change it
    reason: str | None = None  # why not ready
    call_id: str | None = None  # the call they talk on or wrap up

    @property
    def key(self) -> AgentKey:
        return self.tenant, self.agent_id
