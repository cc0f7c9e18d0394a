"""Agent-first preview honoured by routing, through a real worker on the real Kafka: the
preview events (on the callback topic) hold the accepting agent, a caller queued
meanwhile goes to another agent, and the callback's call goes to the reserved agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpers.streams_worker import agent_states
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import AgentLoggedIn, AgentReady, SkillLevel
from hotline_events.models.callbacks import CallbackPreviewAnswered, CallbackPreviewOffered
from hotline_events.models.calls import CallQueued
from hotline_events.models.routing import RoutingDecision

pytestmark = pytest.mark.integration

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SOURCE = "//hotline/site-a/test/streams"


def ev(data: EventModel, second: float) -> Event:
    return Event(data=data, source=SOURCE, time=DAY + timedelta(seconds=second))


def decided(events: list[Event]) -> list[RoutingDecision]:
    """Decisions deduped by event id, as every consumer does."""
    return list({e.id: e.data for e in events if isinstance(e.data, RoutingDecision)
                 and e.data.tenant == "bank"}.values())


def pairs(events: list[Event]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decided(events)]


def test_the_accepting_agent_is_held_and_gets_the_callbacks_call(streams: Any) -> None:
    decisions = streams.reader(RoutingDecision)
    try:
        streams.worker.start()
        streams.publish([
            *[ev(AgentLoggedIn(agent_id=a, tenant="bank", site="site-a",
                               skills=(SkillLevel(skill="cards", proficiency=3),)), 0)
              for a in ("a1", "a2")],
            ev(AgentReady(agent_id="a1", tenant="bank"), 1),  # a1: the longest idle
            ev(AgentReady(agent_id="a2", tenant="bank"), 2)])
        streams.wait_view(lambda v: list(agent_states(v).values()) == ["ready"] * 2,
                  "two ready agents")
        streams.publish([
            ev(CallbackPreviewOffered(callback_id="cb-1", call_id="c-orig", tenant="bank",
                                      queue="cards", agent_id="a1", attempt=1,
                                      dial_by=DAY + timedelta(seconds=30)), 10),
            ev(CallbackPreviewAnswered(callback_id="cb-1", call_id="c-orig", tenant="bank",
                                       agent_id="a1", attempt=1, decision="accepted"), 12)])
        streams.wait_view(lambda v: any(a["agent_id"] == "a1" and a["state"] == "reserved"
                                         and a["contact"] == "callback:cb-1"
                                         for a in v["agents"]),
                  "a1 held for callback cb-1")

        streams.publish([ev(CallQueued(call_id="c-early", tenant="bank", queue="cards",
                                       enqueued_at=DAY + timedelta(seconds=13)), 13)])
        decisions.poll_until(lambda got: len(pairs(got)) >= 1)
        # The customer answered: the call keeps the original (earlier) place in line.
        streams.publish([ev(CallQueued(call_id="out-1", tenant="bank", queue="cards",
                                       enqueued_at=DAY + timedelta(seconds=40),
                                       original_enqueued_at=DAY, callback_id="cb-1",
                                       reserved_agent_id="a1"), 40)])
        decisions.poll_until(lambda got: len(pairs(got)) >= 2)

        assert pairs(decisions.events) == [("c-early", "a2"), ("out-1", "a1")]
        rules = {d.call_id: d.rule for d in decided(decisions.events)}
        assert rules["out-1"] == "reserved-agent"
    finally:
        decisions.close()
