"""Load shapes and the simulated contact center of the firehose, without servers."""

from __future__ import annotations

import random

import pytest

from hotline_events.models.agents import AgentLoggedIn, AgentReady, WrapUpEnded
from hotline_events.models.calls import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallOffered,
    CallQueued,
    OfferedToAgent,
)
from hotline_events.models.routing import RoutingDecision
from hotline_loadtests.firehose.logic import Firehose
from hotline_loadtests.shapes.logic import (
    arrival_rate,
    expected_calls,
    next_arrival,
    peak_rate,
    users_needed,
)
from hotline_loadtests.shapes.models import CallerMix, Shape, ShapeKind


def test_steady_is_flat_and_stops_with_the_run() -> None:
    shape = Shape(ShapeKind.STEADY, base_rate=2.0, duration_s=60)
    assert [arrival_rate(shape, t) for t in (0, 30, 59.9, 60, -1)] == [2, 2, 2, 0, 0]
    assert expected_calls(shape) == pytest.approx(120)


def test_promotion_surge_reaches_five_times_within_minutes_then_decays() -> None:
    shape = Shape(ShapeKind.PROMOTION_SURGE, base_rate=1.0, duration_s=1800, peak_factor=5,
                  surge_at_s=300, rise_s=120, decay_s=300)
    assert arrival_rate(shape, 299) == 1.0
    assert arrival_rate(shape, 360) == pytest.approx(3.0)
    assert arrival_rate(shape, 420) == pytest.approx(5.0)
    assert arrival_rate(shape, 720) == pytest.approx(1 + 4 * 0.3679, rel=1e-3)
    assert arrival_rate(shape, 1799) < 1.1
    assert peak_rate(shape) == pytest.approx(5.0)


def test_month_start_ramps_holds_and_eases() -> None:
    shape = Shape(ShapeKind.MONTH_START, base_rate=1.0, duration_s=300, peak_factor=3)
    assert arrival_rate(shape, 0) == 1.0
    assert arrival_rate(shape, 50) == pytest.approx(2.0)
    assert arrival_rate(shape, 150) == 3.0
    assert arrival_rate(shape, 250) == pytest.approx(2.0)


def test_poisson_arrivals_follow_the_shape() -> None:
    shape = Shape(ShapeKind.PROMOTION_SURGE, base_rate=2.0, duration_s=600, surge_at_s=100,
                  rise_s=60, decay_s=120)
    rng = random.Random(7)
    t: float | None = 0.0
    arrivals: list[float] = []
    while (t := next_arrival(shape, t, rng)) is not None:  # type: ignore[arg-type]
        arrivals.append(t)
    assert len(arrivals) == pytest.approx(expected_calls(shape), rel=0.08)
    before = sum(1 for a in arrivals if a < 100) / 100
    peak = sum(1 for a in arrivals if 160 <= a < 200) / 40
    assert before == pytest.approx(2.0, rel=0.35) and peak == pytest.approx(10.0, rel=0.3)


def test_users_cover_the_peak_concurrency() -> None:
    mix = CallerMix(patience_mean_s=60, talk_mean_s=60, ivr_seconds=4)
    assert users_needed(Shape(base_rate=1.0), mix) == 186  # 1/s x 124 s x 1.5


def decision(call_id: str, agent_id: str) -> RoutingDecision:
    return RoutingDecision(decision_id=f"d-{call_id}", call_id=call_id, tenant="demo-bank",
                           queue="general", agent_id=agent_id, site="site-a",
                           rule="longest-idle", waited_seconds=1.0, candidates=1)


def test_a_routed_call_is_answered_talks_and_frees_its_agent() -> None:
    fh = Firehose(CallerMix(vip_share=0, patience_mean_s=1e6), rng=random.Random(1))
    staffed = fh.staff(2, 0.0)
    assert sum(isinstance(e, AgentLoggedIn) for _, e in staffed) == 2
    assert sum(isinstance(e, AgentReady) for _, e in staffed) == 2
    offered = fh.arrive(10.0)
    assert isinstance(offered[0][1], CallOffered)
    call_id = offered[0][1].call_id
    queued = fh.due(20.0)
    assert [type(e) for _, e in queued] == [CallQueued]
    assert queued[0][0] == 10.0 + fh.mix.ivr_seconds
    agent = next(a for a in fh.agents.values() if fh.calls[call_id].skills == a.skills)
    assert isinstance(fh.decide(decision(call_id, agent.agent_id), 21.0)[0][1], OfferedToAgent)
    assert fh.decide(decision(call_id, agent.agent_id), 21.5) == [], "a replayed decision"
    events = fh.due(10_000.0)
    kinds = [type(e) for _, e in events]
    assert kinds[0] is CallAnswered and CallCompleted in kinds and kinds[-1] is AgentReady
    answered = next(e for _, e in events if isinstance(e, CallAnswered))
    assert answered.wait_seconds == pytest.approx(21.0 + 2.0 - 14.0)
    assert WrapUpEnded in kinds and agent.busy_with is None and fh.answered == 1


def test_an_unrouted_caller_abandons_at_their_patience_and_late_decisions_are_ignored() -> None:
    fh = Firehose(CallerMix(patience_mean_s=30), rng=random.Random(3))
    fh.staff(1, 0.0)
    call_id = fh.arrive(0.0)[0][1].call_id  # type: ignore[attr-defined]
    events = fh.due(10_000.0)
    abandoned = [e for _, e in events if isinstance(e, CallAbandoned)]
    assert len(abandoned) == 1 and abandoned[0].call_id == call_id and fh.abandoned == 1
    assert abandoned[0].wait_seconds == pytest.approx(fh.calls[call_id].patience_s)
    assert fh.decide(decision(call_id, "fh-agent-0000"), 10_001.0) == []
    fh.forget_finished()
    assert fh.calls == {}
