"""A tenant's live figures per queue, from routing state (pure).

``live_figures`` yields the ``QueueStatistics`` of every queue (configured, waiting or
recently seen) and a ``WaitEstimate`` per waiting contact, with deterministic ids so
a replayed tick repeats the same events.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hotline_events.models.metrics import QueueStatistics, WaitEstimate
from hotline_streams.config.models import TenantConfig
from hotline_streams.estimates.logic import estimate as estimate_waits
from hotline_streams.estimates.logic import expected_free_at
from hotline_streams.estimates.models import Server, Waiting
from hotline_streams.routing.logic import queue_order
from hotline_streams.routing.models import Agent, AgentState, QueueRecent, RoutingState
from hotline_streams.staffing.erlang import agents_needed, surge_level

_NAMESPACE = uuid.UUID("8d2e6a1f-4b7c-4e59-a0d3-6c1b9e7f2a44")
ARRIVAL_WINDOW_MIN = 15  # arrival rate over the last 15 minutes
DEFAULT_AHT_S = 180.0  # until a queue has completed contacts (DESIGN.md's example)
TAKING_CALLS = (AgentState.READY, AgentState.RESERVED, AgentState.BUSY, AgentState.WRAP_UP)

Out = tuple[QueueStatistics | WaitEstimate, str, datetime]


def arrivals_per_minute(recent: QueueRecent, now: float) -> float:
    minute = int(now // 60)
    window = range(minute - ARRIVAL_WINDOW_MIN, minute)  # whole minutes only
    return sum(recent.arrivals.get(m, 0) for m in window) / ARRIVAL_WINDOW_MIN


def staffing(arrivals_min: float, aht_s: float | None, threshold_s: float,
             target: float, available: int) -> tuple[int | None, int | None]:
    """(Erlang C agents needed, surge level) or (None, None) without rate or AHT."""
    if arrivals_min <= 0 or not aht_s:
        return (0, 0) if arrivals_min <= 0 else (None, None)
    load = arrivals_min / 60.0 * aht_s
    needed = agents_needed(load, aht_s, threshold_s, min(target, 0.999)).agents
    return needed, surge_level(needed, available)


def _skills_of(queue: str, config: TenantConfig, state: RoutingState) -> frozenset[str]:
    configured = config.queues.get(queue)
    if configured is not None:
        return configured.required_skills
    return next((c.required_skills for c in state.contacts.values() if c.queue == queue),
                frozenset())


def live_figures(state: RoutingState, recent: dict[str, QueueRecent], config: TenantConfig,
                 site: str, now: float) -> tuple[list[Out], list[Out]]:
    """(queue statistics, wait estimates) at ``now``."""
    at = datetime.fromtimestamp(now, UTC)
    aht = {q: (r.aht_s or DEFAULT_AHT_S) for q, r in recent.items()}
    queues = sorted(set(config.queues) | {c.queue for c in state.contacts.values()}
                    | set(recent))
    for queue in queues:
        aht.setdefault(queue, DEFAULT_AHT_S)
    waiting = sorted((c for c in state.contacts.values() if c.offered_to is None),
                     key=queue_order)
    # An answered contact has left the routing state: its agent's queue is unknown, so
    # the tenant's average AHT stands in for it.
    known = [r.aht_s for r in recent.values() if r.aht_s]
    tenant_aht = sum(known) / len(known) if known else DEFAULT_AHT_S
    servers = [Server(a.agent_id, frozenset(a.skills),
                      now if a.state is AgentState.READY and a.contact is None
                      else expected_free_at(a.busy_since,
                                            aht.get(_queue_of(a, state), tenant_aht), now))
               for a in state.agents.values() if a.state in TAKING_CALLS]
    fallback = {q: r.wait_s for q, r in recent.items() if r.wait_s is not None}
    estimates = estimate_waits(
        [Waiting(c.call_id, c.queue, c.required_skills, c.enqueued_at) for c in waiting],
        servers, aht, now, fallback)
    estimate_events: list[Out] = [
        (WaitEstimate(call_id=e.call_id, tenant=state.tenant, queue=e.queue, as_of=at,
                      position=e.position, estimated_wait_seconds=e.wait_s, method=e.method),
         str(uuid.uuid5(_NAMESPACE, f"{state.tenant}/{e.call_id}/estimate/{now}")), at)
        for e in estimates]
    last_in_queue = {e.queue: e for e in estimates}
    stats: list[Out] = []
    for queue in queues:
        skills = _skills_of(queue, config, state)
        agents = [a for a in state.agents.values() if skills <= a.skills.keys()]
        in_queue = [c for c in waiting if c.queue == queue]
        by_state = {s: sum(1 for a in agents if a.state is s) for s in AgentState}
        ready = sum(1 for a in agents if a.state is AgentState.READY and a.contact is None)
        available = sum(by_state[s] for s in TAKING_CALLS)
        settings = config.settings(queue)
        queue_recent = recent.get(queue, QueueRecent())
        rate = arrivals_per_minute(queue_recent, now)
        needed, surge = staffing(rate, queue_recent.aht_s, settings.threshold_s,
                                 settings.target, available)
        last = last_in_queue.get(queue)
        # A new caller's wait: after the last one waiting, one more AHT spread over
        # the qualifying agents; nobody waiting and an agent ready: no wait.
        if last is None:
            new_wait = 0.0 if ready else (aht[queue] / max(1, available) if available
                                          else aht[queue])
        else:
            new_wait = last.wait_s + aht[queue] / max(1, available)
        stats.append((QueueStatistics(
            tenant=state.tenant, queue=queue, site=site, as_of=at, waiting=len(in_queue),
            longest_wait_seconds=max([0.0, *(now - c.enqueued_at for c in in_queue)]),
            agents_staffed=len(agents), agents_ready=ready,
            agents_busy=by_state[AgentState.BUSY] + by_state[AgentState.RESERVED],
            agents_not_ready=by_state[AgentState.NOT_READY],
            estimated_wait_seconds=round(max(0.0, new_wait), 1),
            agents_wrap_up=by_state[AgentState.WRAP_UP], arrivals_per_minute=rate,
            aht_seconds=queue_recent.aht_s, agents_needed=needed, surge_level=surge),
            str(uuid.uuid5(_NAMESPACE, f"{state.tenant}/{queue}/stats/{now}")), at))
    return stats, estimate_events


def _queue_of(agent: Agent, state: RoutingState) -> str:
    contact = state.contacts.get(agent.contact or "")
    return contact.queue if contact is not None else ""
