"""Pure: a simulated contact center that turns arrivals and routing decisions into the
events media nodes and agent desktops would publish, at the times they would.

Calls arrive, spend ``ivr_seconds`` in the IVR, queue, and abandon at their patience
unless a routing decision reaches them first; an offered call rings two seconds, is
answered, talks, and the agent wraps up and goes ready again. Nothing here does I/O:
``Firehose`` returns ``(time, event)`` pairs and the Locust user publishes them.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from hotline_events.models import EventModel
from hotline_events.models.agents import AgentReady, WrapUpEnded, WrapUpStarted
from hotline_events.models.calls import (
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallAnsweredByIvr,
    CallCompleted,
    CallOffered,
    CallQueued,
    OfferedToAgent,
)
from hotline_events.models.routing import RoutingDecision
from hotline_loadtests.agents.logic import DemoAgent, log_in
from hotline_loadtests.shapes.logic import pick_queue
from hotline_loadtests.shapes.models import CallerMix

RING_SECONDS = 2.0

Emit = tuple[float, EventModel]


class CallState(StrEnum):
    IVR = "ivr"
    QUEUED = "queued"
    OFFERED = "offered"
    TALKING = "talking"
    DONE = "done"


@dataclass
class SimCall:
    call_id: str
    queue: str
    tier: str
    skills: tuple[str, ...]
    dialled_number: str
    arrived_at: float
    queued_at: float
    patience_s: float
    talk_s: float
    state: CallState = CallState.IVR
    agent_id: str | None = None
    answered_at: float | None = None


@dataclass
class SimAgent:
    agent_id: str
    skills: tuple[str, ...]
    busy_with: str | None = None


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass
class Firehose:
    mix: CallerMix
    site: str = "site-a"
    media_node: str = "mn-firehose"
    rng: random.Random = field(default_factory=random.Random)
    calls: dict[str, SimCall] = field(default_factory=dict)
    agents: dict[str, SimAgent] = field(default_factory=dict)
    _heap: list[tuple[float, int, str, str]] = field(default_factory=list)  # (t, seq, kind, id)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    run_id: str = "fh"
    abandoned: int = 0
    answered: int = 0

    # -- inputs --------------------------------------------------------------------------

    def staff(self, count: int, t: float) -> list[Emit]:
        """Log ``count`` agents in, skills dealt round-robin over the queues, and ready."""
        skills = [q.skills for q in self.mix.queues]
        team = [DemoAgent(f"{self.run_id}-agent-{i:04d}",
                          tuple((skill, 3) for skill in skills[i % len(skills)]))
                for i in range(count)]
        for agent in team:
            self.agents[agent.agent_id] = SimAgent(agent.agent_id,
                                                   tuple(s for s, _ in agent.skills))
        return [(t, event) for event in log_in(self.mix.tenant, self.site, team)]

    def arrive(self, t: float) -> list[Emit]:
        """A new caller dials in at ``t``."""
        queue = pick_queue(self.mix, self.rng)
        call = SimCall(
            call_id=f"{self.run_id}-call-{next(self._ids):07d}", queue=queue.queue,
            tier="vip" if self.rng.random() < self.mix.vip_share else "standard",
            skills=queue.skills, dialled_number=queue.dialled_number, arrived_at=t,
            queued_at=t + self.mix.ivr_seconds,
            # Exponential patience, cut at 3x the mean so a run drains in bounded time.
            patience_s=min(self.rng.expovariate(1 / self.mix.patience_mean_s),
                           3 * self.mix.patience_mean_s),
            talk_s=max(5.0, self.rng.expovariate(1 / self.mix.talk_mean_s)))
        self.calls[call.call_id] = call
        self._schedule(call.queued_at, "queue", call.call_id)
        return [
            (t, CallOffered(call_id=call.call_id, tenant=self.mix.tenant, site=self.site,
                            media_node=self.media_node, dialled_number=call.dialled_number)),
            (t, CallAnsweredByIvr(call_id=call.call_id, tenant=self.mix.tenant,
                                  media_node=self.media_node, ring_seconds=0.0)),
        ]

    def decide(self, decision: RoutingDecision, t: float) -> list[Emit]:
        """The streams routed a call to an agent: ring, then answer (if still waiting)."""
        call = self.calls.get(decision.call_id)
        agent = self.agents.get(decision.agent_id)
        if call is None or agent is None or call.state is not CallState.QUEUED \
                or agent.busy_with is not None:
            return []  # abandoned meanwhile, or a replayed decision
        call.state, call.agent_id, agent.busy_with = CallState.OFFERED, agent.agent_id, call.call_id
        self._schedule(t + RING_SECONDS, "answer", call.call_id)
        return [
            (t, OfferedToAgent(call_id=call.call_id, tenant=self.mix.tenant, queue=call.queue,
                               agent_id=agent.agent_id, decision_id=decision.decision_id)),
            (t, AgentRinging(call_id=call.call_id, tenant=self.mix.tenant, queue=call.queue,
                             agent_id=agent.agent_id)),
        ]

    # -- time ----------------------------------------------------------------------------

    def busy(self) -> bool:
        """Calls still in the system (ringing, waiting, talking or in wrap-up)."""
        return bool(self.calls)

    def due(self, now: float) -> list[Emit]:
        out: list[Emit] = []
        while self._heap and self._heap[0][0] <= now:
            t, _, kind, key = heapq.heappop(self._heap)
            out.extend(getattr(self, f"_on_{kind}")(key, t))
        return out

    def _on_queue(self, call_id: str, t: float) -> list[Emit]:
        call = self.calls[call_id]
        call.state = CallState.QUEUED
        self._schedule(t + call.patience_s, "patience", call_id)
        return [(t, CallQueued(call_id=call_id, tenant=self.mix.tenant, queue=call.queue,
                               required_skills=call.skills, priority=5 if call.tier == "vip"
                               else 0, caller_tier=call.tier,  # type: ignore[arg-type]
                               enqueued_at=at(t), original_enqueued_at=None))]

    def _on_patience(self, call_id: str, t: float) -> list[Emit]:
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.QUEUED:
            return []
        call.state = CallState.DONE
        self.abandoned += 1
        return [(t, CallAbandoned(call_id=call_id, tenant=self.mix.tenant, stage="queue",
                                  queue=call.queue, wait_seconds=t - call.queued_at))]

    def _on_answer(self, call_id: str, t: float) -> list[Emit]:
        call = self.calls[call_id]
        if call.state is not CallState.OFFERED or call.agent_id is None:
            return []
        call.state, call.answered_at = CallState.TALKING, t
        self.answered += 1
        self._schedule(t + call.talk_s, "hang_up", call_id)
        return [(t, CallAnswered(call_id=call_id, tenant=self.mix.tenant, queue=call.queue,
                                 agent_id=call.agent_id, wait_seconds=t - call.queued_at))]

    def _on_hang_up(self, call_id: str, t: float) -> list[Emit]:
        call = self.calls[call_id]
        assert call.agent_id is not None
        call.state = CallState.DONE
        wrap = self.rng.expovariate(1 / self.mix.wrap_up_mean_s)
        self._schedule(t + wrap, "wrap_up_end", call_id)
        return [
            (t, CallCompleted(call_id=call_id, tenant=self.mix.tenant, queue=call.queue,
                              agent_id=call.agent_id, talk_seconds=t - (call.answered_at or t),
                              hold_seconds=0.0, wrap_up_seconds=wrap, disposition="resolved",
                              ended_by="caller")),
            (t, WrapUpStarted(agent_id=call.agent_id, tenant=self.mix.tenant, call_id=call_id)),
        ]

    def _on_wrap_up_end(self, call_id: str, t: float) -> list[Emit]:
        call = self.calls.pop(call_id)
        assert call.agent_id is not None
        agent = self.agents[call.agent_id]
        agent.busy_with = None
        return [
            (t, WrapUpEnded(agent_id=agent.agent_id, tenant=self.mix.tenant, call_id=call_id,
                            wrap_up_seconds=t - (call.answered_at or t) - call.talk_s)),
            (t, AgentReady(agent_id=agent.agent_id, tenant=self.mix.tenant)),
        ]

    def _schedule(self, t: float, kind: str, key: str) -> None:
        heapq.heappush(self._heap, (t, next(self._seq), kind, key))

    def forget_finished(self) -> None:
        """Drop abandoned calls (answered ones leave at wrap-up end)."""
        for call_id in [c for c, call in self.calls.items()
                        if call.state is CallState.DONE and call.agent_id is None]:
            del self.calls[call_id]
