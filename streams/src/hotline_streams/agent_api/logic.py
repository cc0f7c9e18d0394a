"""Agent requests to agent events, validated with the field named (pure).

The API holds no state: what it needs beyond the request (the call in wrap-up, the
session's start) comes from the routing state the streams keep.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    WrapUpEnded,
)
from hotline_streams.routing.models import Agent, AgentState

ACTIONS = ("login", "ready", "not-ready", "wrap-up-done", "logout")
AgentCommand = AgentLoggedIn | AgentReady | AgentNotReady | WrapUpEnded | AgentLoggedOut


class BadRequest(ValueError):
    """A request the API refuses; ``status`` 400 (bad field) or 404/409 (wrong state)."""

    def __init__(self, field: str, reason: str, status: int = 400) -> None:
        self.field = field
        self.reason = reason
        self.status = status
        super().__init__(f"{field}: {reason}")


def _convert(kind: type[AgentCommand], fields: dict[str, Any]) -> AgentCommand:
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as exc:
        # msgspec says "… - at `$.skills[0].proficiency`": name that field.
        message = str(exc)
        field = message.rsplit("`$.", 1)[-1].rstrip("`") if "`$." in message else "body"
        raise BadRequest(field, message) from None


def command(action: str, tenant: str, agent_id: str, body: Any, agent: Agent | None,
            site: str, now: float) -> AgentCommand:
    """The agent event for a request, or ``BadRequest``."""
    if action not in ACTIONS:
        raise BadRequest("action", f"{action!r} is not one of {', '.join(ACTIONS)}, "
                                   "reconnect", 404)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    ids = {"tenant": tenant, "agent_id": agent_id}
    if action == "login":
        skills = body.get("skills")
        if isinstance(skills, dict):  # {"billing": 3} is the short form
            skills = [{"skill": k, "proficiency": v} for k, v in skills.items()]
        if not skills:
            raise BadRequest("skills", "at least one skill (skill: proficiency 1-5) is required")
        unknown = set(body) - {"skills", "languages", "senior"}
        if unknown:
            raise BadRequest(sorted(unknown)[0], "unknown field (known: skills, languages, "
                                                 "senior)")
        return _convert(AgentLoggedIn, {**ids, "site": site, "skills": skills,
                                        "languages": body.get("languages", []),
                                        "senior": body.get("senior", False)})
    if agent is None:
        raise BadRequest("agent_id", f"agent {agent_id} is not logged in to {tenant}", 409)
    if action == "ready":
        if agent.state in (AgentState.RESERVED, AgentState.BUSY):
            raise BadRequest("agent_id", f"agent {agent_id} is {agent.state.value} with call "
                                         f"{agent.contact}", 409)
        return _convert(AgentReady, ids)
    if action == "not-ready":
        if "reason" not in body:
            raise BadRequest("reason", "is required (e.g. break, lunch, training)")
        return _convert(AgentNotReady, {**ids, "reason": body["reason"]})
    if action == "wrap-up-done":
        if agent.state is not AgentState.WRAP_UP or agent.contact is None:
            raise BadRequest("agent_id", f"agent {agent_id} is {agent.state.value}, not in "
                                         "wrap-up", 409)
        since = agent.wrap_up_since if agent.wrap_up_since is not None else now
        return _convert(WrapUpEnded, {**ids, "call_id": agent.contact,
                                      "wrap_up_seconds": round(max(0.0, now - since), 3)})
    since = agent.logged_in_at if agent.logged_in_at is not None else now
    return _convert(AgentLoggedOut, {**ids, "staffed_seconds": round(max(0.0, now - since), 3)})
