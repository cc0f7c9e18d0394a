"""Routing through a real worker on the real Kafka: agent events and queued calls in,
decisions out by the rules (proficiency, longest idle, VIP first), and no contact
offered twice nor an agent given two contacts across a SIGKILL and restart."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpers.streams_worker import agent_states
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentNotReady,
    AgentReady,
    SkillLevel,
    WrapUpEnded,
    WrapUpStarted,
)
from hotline_events.models.calls import (
    CallAnswered,
    CallCompleted,
    CallOffered,
    CallQueued,
    IvrSelection,
)
from hotline_events.models.metrics import QueueStatistics, SlaInterval, WaitEstimate
from hotline_events.models.routing import RoutingDecision

pytestmark = pytest.mark.integration

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SOURCE = "//hotline/site-a/test/streams"
TOKEN = "ct1_" + "ef" * 32


def ev(data: EventModel, second: float) -> Event:
    return Event(data=data, source=SOURCE, time=DAY + timedelta(seconds=second))


def login(agent: str, second: float, proficiency: int) -> Event:
    return ev(AgentLoggedIn(agent_id=agent, tenant="bank", site="site-a",
                            skills=(SkillLevel(skill="cards", proficiency=proficiency),)), second)


def ready(agent: str, second: float) -> Event:
    return ev(AgentReady(agent_id=agent, tenant="bank"), second)


def queued(call: str, second: float, tier: str = "standard") -> Event:
    return ev(CallQueued(call_id=call, tenant="bank", queue="cards",
                         caller_tier=tier,  # type: ignore[arg-type]
                         enqueued_at=DAY + timedelta(seconds=second)), second)


def unique(events: list[Event]) -> list[RoutingDecision]:
    """Decisions deduped by event id, as every consumer does; a repeat must be identical."""
    seen: dict[str, RoutingDecision] = {}
    for event in events:
        assert isinstance(event.data, RoutingDecision)
        if event.id in seen:
            assert seen[event.id] == event.data, "a repeated decision id changed its content"
        seen[event.id] = event.data
    return list(seen.values())


def pairs(events: list[Event]) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in unique(events) if d.tenant == "bank"]


def post_mortem(worker: Any) -> str:
    """Each start's generations, resumed books and un-acked replays, for a failure."""
    marks = ("generation id", "resumes from its checkpoint", "processed across", "ERROR")
    lines = []
    for start in range(1, worker.starts + 1):
        text = worker.log_of(start).read_text(errors="replace")
        lines += [f"start {start}: {line}" for line in text.splitlines()
                  if any(mark in line for mark in marks)]
    return "\n".join(lines)


def test_decisions_follow_the_rules_and_survive_a_worker_kill(streams: Any) -> None:
    decisions = streams.reader(RoutingDecision)
    try:
        streams.worker.start()
        # The liveness probe a site's pod uses answers once the worker serves.
        assert json.loads(streams.worker.get("/healthz")) == {"status": "ok"}
        streams.publish([login("a1", 0, 2), login("a2", 0, 5), login("a3", 0, 2),
                         ready("a1", 1), ready("a2", 2), ready("a3", 3)])
        streams.wait_view(lambda v: list(agent_states(v).values()) == ["ready"] * 3,
                  "three ready agents")

        streams.publish([queued("c1", 10)])  # best proficiency: a2 (5)
        decisions.poll_until(lambda got: len(pairs(got)) >= 1)
        streams.publish([queued("c2", 11)])  # a1 and a3 both 2: a1 idle since 1 s
        decisions.poll_until(lambda got: len(pairs(got)) >= 2)
        assert pairs(decisions.events) == [("c1", "a2"), ("c2", "a1")]

        streams.worker.kill()  # mid-run, without a shutdown or a final commit
        streams.worker.start()

        streams.publish([ev(AgentNotReady(agent_id="a3", tenant="bank", reason="break"), 20)])
        streams.wait_view(lambda v: agent_states(v).get("a3") == "not-ready", "a3 on a break")
        streams.publish([queued("c3", 21), queued("c4", 25, tier="vip")])
        streams.wait_view(lambda v: {c["call_id"] for c in v["contacts"]
                                      if c["offered_to"] is None} == {"c3", "c4"},
                  "c3 and c4 waiting")
        streams.publish([ready("a3", 30)])  # one free agent: the VIP goes first
        decisions.poll_until(lambda got: len(pairs(got)) >= 3)

        streams.publish([ev(CallAnswered(call_id="c1", tenant="bank", queue="cards",
                                         agent_id="a2", wait_seconds=2), 12),
                         ev(CallCompleted(call_id="c1", tenant="bank", queue="cards",
                                          agent_id="a2", talk_seconds=30, hold_seconds=0,
                                          wrap_up_seconds=0, disposition="resolved",
                                          ended_by="caller"), 42)])
        streams.wait_view(lambda v: agent_states(v).get("a2") == "wrap-up",
                  "c1 answered and completed (a2 in wrap-up)")
        streams.publish([ev(WrapUpStarted(agent_id="a2", tenant="bank", call_id="c1"), 43),
                         ev(WrapUpEnded(agent_id="a2", tenant="bank", call_id="c1",
                                        wrap_up_seconds=5), 48)])
        decisions.poll_until(lambda got: len(pairs(got)) >= 4)

        got = pairs(decisions.events)
        assert got == [("c1", "a2"), ("c2", "a1"), ("c4", "a3"), ("c3", "a2")], \
            post_mortem(streams.worker)
        rules = {d.call_id: d.rule for d in unique(decisions.events)}
        assert rules["c4"] == "vip-first"
        # never a contact offered twice, never an agent holding two contacts at once
        assert len({call for call, _ in got}) == len(got)
        view = streams.worker.view("bank")
        holding = [a["contact"] for a in view["agents"] if a["contact"]]
        assert len(holding) == len(set(holding)) == 3  # a1: c2, a3: c4, a2: c3
    finally:
        decisions.close()


def test_time_passes_without_events_ring_no_answer_and_intervals_close(streams: Any) -> None:
    """Ticks: an offer nobody answers times out (agent not ready, contact re-offered),
    and an interval closes final with no later event to push it."""
    now = datetime.now(UTC)

    def at(data: EventModel, second: float) -> Event:
        return Event(data=data, source=SOURCE, time=now + timedelta(seconds=second))

    decisions = streams.reader(RoutingDecision)
    agents = streams.reader(AgentNotReady)  # the agent topic: all agent events
    sla = streams.reader(SlaInterval)
    stats = streams.reader(QueueStatistics)
    estimates = streams.reader(WaitEstimate)
    try:
        streams.worker.start()
        streams.publish([
            at(AgentLoggedIn(agent_id="n1", tenant="clinic", site="site-a",
                             skills=(SkillLevel(skill="triage", proficiency=3),)), 0),
            at(AgentReady(agent_id="n1", tenant="clinic"), 0.1),
            at(CallOffered(call_id="p1", tenant="clinic", site="site-a", media_node="m1",
                           dialled_number="4008001234", caller_token=TOKEN), 0.1),
            at(IvrSelection(call_id="p1", tenant="clinic", menu_id="main", level=1,
                            option="1", target="queue:triage", elapsed_seconds=3), 0.15),
            at(CallQueued(call_id="p1", tenant="clinic", queue="triage", caller_tier="vip",
                          enqueued_at=now + timedelta(seconds=0.2)), 0.2)])
        def clinic_pairs(got: list[Event]) -> list[tuple[str, str]]:
            return [(d.call_id, d.agent_id) for d in unique(got) if d.tenant == "clinic"]

        decisions.poll_until(lambda got: clinic_pairs(got) == [("p1", "n1")])
        # n1 never answers: after the 2 s ring timeout a tick makes n1 not ready
        agents.poll_until(lambda got: any(
            isinstance(e.data, AgentNotReady) and e.data.agent_id == "n1"
            and e.data.reason == "ring-no-answer" for e in got))
        view = streams.worker.view("clinic")
        assert {a["agent_id"]: a["state"] for a in view["agents"]} == {"n1": "not-ready"}
        assert [(c["call_id"], c["offered_to"]) for c in view["contacts"]] == [("p1", None)]
        # live figures on the ticks: the queue's statistics and p1's estimate and position
        stats.poll_until(lambda got: any(
            isinstance(e.data, QueueStatistics) and e.data.tenant == "clinic"
            and (e.data.waiting, e.data.agents_not_ready, e.data.agents_ready) == (1, 1, 0)
            for e in got))
        estimates.poll_until(lambda got: any(
            isinstance(e.data, WaitEstimate) and e.data.call_id == "p1" and e.data.position == 1
            and e.data.method == "no-agents" for e in got))
        scraped = streams.worker.get("/metrics").decode()
        assert re.search(r'hotline_queue_waiting\{[^}]*queue="triage",tenant="clinic"\} 1\.0',
                         scraped), scraped[-2000:]
        # n2 logs in and gets ready through the agent API (published agent events)
        api = "/tenants/clinic/agents/n2"
        assert streams.worker.post(f"{api}/login", {"skills": {"triage": 9}})[1]["field"] \
            == "skills[0].proficiency"  # 400 naming the field
        assert streams.worker.post(f"{api}/ready")[0] == 409  # not logged in yet
        assert streams.worker.post(f"{api}/login", {"skills": {"triage": 1}})[0] == 202
        streams.wait_view(lambda v: "n2" in agent_states(v), "n2 logged in", "clinic")
        assert streams.worker.post(f"{api}/ready")[0] == 202
        decisions.poll_until(lambda got: clinic_pairs(got) == [("p1", "n1"), ("p1", "n2")])
        # the screen pop of n2's assignment: tier, IVR path, caller
        pop = json.loads(streams.worker.get(f"{api}/assignment"))["assignment"]
        assert (pop["call_id"], pop["tier"], pop["queue"], pop["caller_token"]) == (
            "p1", "vip", "triage", TOKEN)
        assert [(c["menu_id"], c["option"]) for c in pop["ivr_path"]] == [("main", "1")]
        streams.publish([at(CallAnswered(call_id="p1", tenant="clinic", queue="triage",
                                         agent_id="n2", wait_seconds=4), 4)])
        # the 10 s interval of p1 closes by the ticks alone: no later event is sent
        final = sla.poll_until(lambda got: next(
            (e.data for e in got if isinstance(e.data, SlaInterval)
             and e.data.tenant == "clinic" and e.data.final), None), timeout=60)
        assert (final.queue, final.offered, final.answered) == ("triage", 1, 1)
        # SIGTERM with un-acked events (between checkpoints): the worker stops by itself
        # (exit 0) instead of waiting for acks that only a checkpoint would give, which
        # ran into the helper's 20 s limit and a SIGKILL (exit -9) before.
        streams.worker.stop()
        assert streams.worker.process is not None
        assert streams.worker.process.returncode == 0, streams.worker.tail()
    finally:
        for reader in (decisions, agents, sla, stats, estimates):
            reader.close()
