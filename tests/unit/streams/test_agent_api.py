"""Agent API requests to agent events: validation names the field; state from routing."""

from __future__ import annotations

import pytest

from hotline_events.models.agents import AgentLoggedIn, AgentLoggedOut, AgentNotReady, WrapUpEnded
from hotline_streams.agent_api.logic import BadRequest, command
from hotline_streams.routing.models import Agent, AgentState

NOW = 1_800_000_000.0


def agent(state: AgentState, **kw: object) -> Agent:
    return Agent("a1", "bank", state, {"cards": 3}, **kw)  # type: ignore[arg-type]


def test_login_with_skills_in_short_form() -> None:
    event = command("login", "bank", "a1", {"skills": {"cards": 4}, "languages": ["en"]},
                    None, "site-a", NOW)
    assert isinstance(event, AgentLoggedIn)
    assert [(s.skill, s.proficiency) for s in event.skills] == [("cards", 4)]
    assert event.site == "site-a" and event.languages == ("en",)


@pytest.mark.parametrize(("action", "body", "field", "status"), [
    ("login", {"skills": {"cards": 9}}, "skills[0].proficiency", 400),
    ("login", {}, "skills", 400),
    ("login", {"skills": {"cards": 3}, "shoe_size": 44}, "shoe_size", 400),
    ("not-ready", {}, "reason", 400),
    ("not-ready", {"reason": "Coffee Break!"}, "reason", 400),
    ("dance", {}, "action", 404),
])
def test_bad_requests_name_the_field(action: str, body: dict[str, object], field: str,
                                     status: int) -> None:
    with pytest.raises(BadRequest) as caught:
        command(action, "bank", "a1", body, agent(AgentState.READY), "site-a", NOW)
    assert (caught.value.field, caught.value.status) == (field, status)


def test_state_conflicts_are_409() -> None:
    with pytest.raises(BadRequest) as caught:
        command("ready", "bank", "a1", {}, None, "site-a", NOW)
    assert caught.value.status == 409
    with pytest.raises(BadRequest) as caught:
        command("wrap-up-done", "bank", "a1", {}, agent(AgentState.BUSY, contact="c1"),
                "site-a", NOW)
    assert caught.value.status == 409


def test_wrap_up_done_and_logout_take_their_durations_from_routing_state() -> None:
    wrapping = agent(AgentState.WRAP_UP, contact="c1", wrap_up_since=NOW - 25,
                     logged_in_at=NOW - 3600)
    done = command("wrap-up-done", "bank", "a1", None, wrapping, "site-a", NOW)
    assert isinstance(done, WrapUpEnded)
    assert (done.call_id, done.wrap_up_seconds) == ("c1", 25.0)
    out = command("logout", "bank", "a1", {}, wrapping, "site-a", NOW)
    assert isinstance(out, AgentLoggedOut) and out.staffed_seconds == 3600.0
    brk = command("not-ready", "bank", "a1", {"reason": "break"}, wrapping, "site-a", NOW)
    assert isinstance(brk, AgentNotReady) and brk.reason == "break"
