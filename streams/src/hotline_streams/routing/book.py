"""A routing domain's state as decoded events change it, and the decisions it yields.

Pure: ``step(book, event, config, site)`` returns the new book and the
``RoutingDecision`` events to publish. Decisions are made on event time, so a replay
of the same events from the same state yields the same decisions with the same ids
(consumers dedupe on them). Replays never double-assign: an event id seen recently
is skipped, a finished call is never queued again, and ``apply`` refuses to offer a
contact twice or give an agent a second contact.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hotline_events.envelope import Event
from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    WrapUpEnded,
    WrapUpStarted,
)
from hotline_events.models.callbacks import (
    CallbackCancelled,
    CallbackFailed,
    CallbackPreviewAnswered,
    CallbackPreviewOffered,
)
from hotline_events.models.calls import (
    AgentNoAnswer,
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallQueued,
)
from hotline_events.models.metrics import QueueStatistics, WaitEstimate
from hotline_events.models.routing import RoutingDecision
from hotline_streams.config.models import TenantConfig
from hotline_streams.estimates.logic import ewma
from hotline_streams.frozen import replace
from hotline_streams.queue_stats.logic import live_figures
from hotline_streams.recent import Recent, holds, remember
from hotline_streams.routing.logic import (
    RONA_REASON,
    apply,
    decide,
    expired_offers,
    hold_for_callback,
    release_callback_hold,
    ring_no_answer,
    stale_callback_holds,
    with_agents,
)
from hotline_streams.routing.models import (
    Agent,
    AgentState,
    Assignment,
    CallerTier,
    Contact,
    QueueRecent,
    RoutingState,
    callback_hold,
)
from hotline_streams.ticks.logic import advance as advance_clock
from hotline_streams.ticks.models import Clock

SEEN_IDS = 256  # event ids remembered per tenant (duplicates come from recent offsets)
FINISHED_CALLS = 2048  # finished calls remembered, so a replayed `queued` is ignored
DECISION_NAMESPACE = uuid.UUID("5f1c9a3e-7d0b-4c41-9a57-2f4f1c2d8e10")


@dataclass(frozen=True)
class RoutingBook:
    state: RoutingState
    seen_ids: Recent = ()  # recent event ids
    applied: dict[int, int] = field(default_factory=dict)  # partition → last offset folded
    finished_calls: Recent = ()  # recent finished call ids
    decisions: int = field(default=0)  # decisions made so far (for metrics)
    clock: Clock = field(default_factory=Clock)  # the tenant's "now" (see ticks.logic)
    recent: dict[str, QueueRecent] = field(default_factory=dict)  # per queue
    stats_at: float = 0.0  # when live statistics and estimates were last published


def new_book(tenant: str) -> RoutingBook:
    return RoutingBook(state=RoutingState(tenant=tenant))


def _set_agent(state: RoutingState, agent: Agent) -> RoutingState:
    return with_agents(state, {agent.agent_id: agent})


def _drop_contact(state: RoutingState, call_id: str, *, release_agent: bool) -> RoutingState:
    contact = state.contacts.get(call_id)
    if contact is None:
        return state
    contacts = dict(state.contacts)
    del contacts[call_id]
    changed: dict[str, Agent | None] = {}
    agent = state.agents.get(contact.offered_to or "")
    if release_agent and agent is not None and agent.contact == call_id:
        changed[agent.agent_id] = replace(agent, state=AgentState.READY, contact=None)
    held = state.agents.get(contact.reserved_for or "")
    if contact.callback_id is not None and held is not None \
            and held.contact == callback_hold(contact.callback_id):
        # The callback's call ended (or went to another agent) before reaching the agent
        # reserved for it: they are free again.
        changed[held.agent_id] = replace(held, state=AgentState.READY, contact=None,
                                         busy_since=None)
    return with_agents(state, changed, contacts)


def fold(state: RoutingState, event: Event, config: TenantConfig) -> RoutingState:
    """Routing state after one agent or call event (no decisions)."""
    data = event.data
    at = event.time.timestamp()
    agent = state.agents.get(getattr(data, "agent_id", "")) if hasattr(data, "agent_id") else None
    if isinstance(data, AgentLoggedIn):
        return _set_agent(state, Agent(
            agent_id=data.agent_id, tenant=data.tenant, state=AgentState.NOT_READY,
            skills={s.skill: s.proficiency for s in data.skills},
            languages=frozenset(data.languages), idle_since=at, not_ready_reason="logged-in",
            contact=agent.contact if agent else None,
            logged_in_at=agent.logged_in_at if agent and agent.logged_in_at else at))
    if isinstance(data, AgentLoggedOut):
        if agent is None:
            return state
        if agent.contact is not None and agent.contact in state.contacts:
            state = ring_no_answer(state, agent.contact)  # a ringing contact goes back
        return with_agents(state, {data.agent_id: None})
    if isinstance(data, AgentReady):
        if agent is None or agent.state in (AgentState.RESERVED, AgentState.BUSY):
            return state  # holds a contact: ready only after its wrap-up
        return _set_agent(state, replace(agent, state=AgentState.READY, contact=None,
                                         not_ready_reason=None, idle_since=at,
                                         wrap_up_since=None))
    if isinstance(data, AgentNotReady):
        if agent is None or agent.state in (AgentState.RESERVED, AgentState.BUSY):
            return state
        return _set_agent(state, replace(agent, state=AgentState.NOT_READY,
                                         not_ready_reason=data.reason))
    if isinstance(data, WrapUpStarted):
        if agent is None:
            return state
        return _set_agent(state, replace(agent, state=AgentState.WRAP_UP, contact=data.call_id,
                                         not_ready_reason=None,
                                         wrap_up_since=agent.wrap_up_since or at))
    if isinstance(data, WrapUpEnded):
        if agent is None or agent.contact not in (None, data.call_id):
            return state
        return _set_agent(state, replace(agent, state=AgentState.READY, contact=None,
                                         idle_since=at, wrap_up_since=None))
    if isinstance(data, CallQueued):
        if data.call_id in state.contacts:
            return state
        queue = config.queues.get(data.queue)
        skills = frozenset(data.required_skills) or (
            queue.required_skills if queue is not None else frozenset())
        enqueued = (data.original_enqueued_at or data.enqueued_at).timestamp()
        queued = Contact(call_id=data.call_id, tenant=data.tenant, queue=data.queue,
                          required_skills=skills, enqueued_at=enqueued,
                          tier=CallerTier(data.caller_tier), priority=data.priority,
                          language=data.language, callback_id=data.callback_id,
                          reserved_for=data.reserved_agent_id)
        return RoutingState.indexed(state.tenant, {**state.contacts, data.call_id: queued},
                                    state.agents, state.free)
    if isinstance(data, CallAnswered):
        contact = state.contacts.get(data.call_id)
        if contact is not None and contact.offered_to not in (None, data.agent_id):
            other = state.agents.get(contact.offered_to or "")
            if other is not None and other.contact == data.call_id:  # answered elsewhere
                state = _set_agent(state, replace(other, state=AgentState.READY, contact=None))
        state = _drop_contact(state, data.call_id, release_agent=False)
        answering = state.agents.get(data.agent_id)
        if answering is not None:
            state = _set_agent(state, replace(answering, state=AgentState.BUSY,
                                              contact=data.call_id, busy_since=at))
        return state
    if isinstance(data, AgentNoAnswer):
        return ring_no_answer(state, data.call_id, data.agent_id)
    if isinstance(data, CallbackPreviewOffered):
        return hold_for_callback(state, data.agent_id, data.callback_id, at)
    if isinstance(data, CallbackPreviewAnswered):
        if data.decision == "accepted":
            return hold_for_callback(state, data.agent_id, data.callback_id, at)
        return release_callback_hold(state, data.callback_id, data.agent_id)
    if isinstance(data, CallbackFailed | CallbackCancelled):
        return release_callback_hold(state, data.callback_id)
    if isinstance(data, CallAbandoned):
        return _drop_contact(state, data.call_id, release_agent=True)
    if isinstance(data, CallCompleted):
        state = _drop_contact(state, data.call_id, release_agent=True)
        holder = state.agents.get(data.agent_id or "")
        if holder is not None and holder.contact == data.call_id \
                and holder.state in (AgentState.BUSY, AgentState.RESERVED):
            state = _set_agent(state, replace(holder, state=AgentState.WRAP_UP,
                                              wrap_up_since=at))
        return state
    return state


def _finishes(event: Event) -> str | None:
    data = event.data
    if isinstance(data, CallAnswered | CallAbandoned | CallCompleted):
        return data.call_id
    return None


def decision_event(state: RoutingState, assignment: Assignment, *, tenant: str, site: str,
                   cause: str, at: float) -> tuple[RoutingDecision, str, datetime]:
    """The decision struct, its deterministic id (a UUID) and its time."""
    contact = state.contacts[assignment.call_id]
    skills = contact.required_skills
    candidates = max(1, assignment.candidates)
    if assignment.reserved:
        rule = "reserved-agent"  # agent-first preview: the agent who accepted the callback
    elif assignment.via_overflow is not None:
        rule = "overflow"
    elif contact.tier is CallerTier.VIP:
        rule = "vip-first"
    else:
        rule = "most-skilled-longest-idle"
    decision_id = str(uuid.uuid5(DECISION_NAMESPACE,
                                 f"{tenant}/{assignment.call_id}/{assignment.agent_id}/{cause}"))
    return RoutingDecision(
        decision_id=decision_id, call_id=assignment.call_id, tenant=tenant,
        queue=assignment.queue, agent_id=assignment.agent_id, site=site, rule=rule,
        matched_skills=tuple(sorted(skills)), waited_seconds=max(0.0, assignment.waited_s),
        candidates=candidates), decision_id, datetime.fromtimestamp(at, UTC)


def rona_event(tenant: str, call_id: str, agent_id: str, offered_at: float,
               at: float) -> tuple[AgentNotReady, str, datetime]:
    """The ring-no-answer of an offer: the agent goes not ready (deterministic id)."""
    event_id = str(uuid.uuid5(DECISION_NAMESPACE,
                              f"{tenant}/{call_id}/{agent_id}/rona/{offered_at}"))
    return (AgentNotReady(agent_id=agent_id, tenant=tenant, reason=RONA_REASON), event_id,
            datetime.fromtimestamp(at, UTC))


Output = tuple[RoutingDecision | AgentNotReady | QueueStatistics | WaitEstimate, str, datetime]
STATS_EVERY_S = 5.0  # live statistics and wait estimates, on the ticks this far apart
RECENT_MINUTES = 60


def note_recent(recent: dict[str, QueueRecent], state: RoutingState,
                event: Event) -> dict[str, QueueRecent]:
    """Arrivals, handle and wait averages per queue (the same dict when unchanged)."""
    data = event.data
    at = event.time.timestamp()
    if isinstance(data, CallQueued):
        if data.call_id in state.contacts:
            return recent
        queue = recent.get(data.queue, QueueRecent())
        minute = int(at // 60)
        arrivals = {m: n for m, n in queue.arrivals.items() if m > minute - RECENT_MINUTES}
        arrivals[minute] = arrivals.get(minute, 0) + 1
        return {**recent, data.queue: replace(queue, arrivals=arrivals)}
    if isinstance(data, CallAnswered):
        queue = recent.get(data.queue, QueueRecent())
        return {**recent, data.queue: replace(queue, wait_s=ewma(queue.wait_s,
                                                                 data.wait_seconds))}
    if isinstance(data, CallCompleted) and data.queue is not None and data.agent_id:
        handle = data.talk_seconds + data.hold_seconds + data.wrap_up_seconds
        queue = recent.get(data.queue, QueueRecent())
        return {**recent, data.queue: replace(queue, aht_s=ewma(queue.aht_s, handle))}
    return recent


def step(book: RoutingBook, event: Event | None, config: TenantConfig, site: str,
         position: tuple[int, int] | None = None, wall_s: float | None = None,
         ) -> tuple[RoutingBook, list[Output]]:
    """Fold one event (``None``: a tick), on a tick time out unanswered offers, then match.

    Returns the book and the events to publish: routing decisions, and an agent's
    ``AgentNotReady`` (reason ``ring-no-answer``) when an offer rang too long (its
    contact goes back to the head of its queue). ``position`` (partition, offset in
    the worker's input) makes a crash replay a no-op: the stored book already holds
    everything up to its last applied offset. ``wall_s`` is the input record's Kafka
    timestamp: time passes between events (``ticks.logic``).
    """
    if position is not None and position[1] <= book.applied.get(position[0], -1):
        return book, []
    if event is not None and holds(book.seen_ids, event.id):
        return book, []
    if position is not None:
        book = replace(book, applied={**book.applied, position[0]: position[1]})
    event_s = event.time.timestamp() if event is not None else None
    if wall_s is not None:
        clock, now = advance_clock(book.clock, event_s, wall_s)
    else:
        now = max(event_s if event_s is not None else 0.0, book.clock.event_s)
        clock = replace(book.clock, event_s=now)
    book = replace(book, clock=clock)
    state = book.state
    finished = book.finished_calls
    seen = book.seen_ids
    if event is not None:
        seen = remember(book.seen_ids, event.id, SEEN_IDS)
        data = event.data
        if isinstance(data, CallQueued) and holds(finished, data.call_id):
            return replace(book, seen_ids=seen), []
        recent = note_recent(book.recent, state, event)
        book = replace(book, recent=recent) if recent is not book.recent else book
        state = fold(state, event, config)
        done = _finishes(event)
        if done is not None:
            finished = remember(finished, done, FINISHED_CALLS)
    rules = config.routing_rules()
    out: list[Output] = []
    # Offers time out on the ticks (every ``tick_s``), not per event: scanning every
    # ringing contact per event was a third of the routing cost under load.
    expired = expired_offers(state, rules, now) if event is None else []
    for call_id, agent_id in expired:
        offered_at = state.contacts[call_id].offered_at or now
        state = ring_no_answer(state, call_id, agent_id)
        out.append(rona_event(state.tenant, call_id, agent_id, offered_at, now))
    for agent_id, callback_id in stale_callback_holds(state, now) if event is None else []:
        state = release_callback_hold(state, callback_id, agent_id)
    cause = event.id if event is not None else (
        f"tick/{position[0]}/{position[1]}" if position is not None else f"tick@{now}")
    decisions = 0
    for assignment in decide(state, rules, now):
        decision = decision_event(state, assignment, tenant=state.tenant, site=site,
                                  cause=cause, at=now)
        applied = apply(state, assignment, now)
        if applied is state:
            continue
        state = applied
        out.append(decision)
        decisions += 1
    book = replace(book, state=state, seen_ids=seen, finished_calls=finished,
                   decisions=book.decisions + decisions)
    if event is None and now - book.stats_at >= STATS_EVERY_S:
        stats, estimates = live_figures(state, book.recent, config, site, now)
        out += stats
        out += estimates
        book = replace(book, stats_at=now)
    return book, out
