"""Routing decisions as plain functions.

Order of waiting contacts: caller tier (VIP first), then priority, then a contact
returned after ring-no-answer, then the longest wait (original enqueue time, so a
callback keeps its place instead of jumping the line). Among qualifying ready
agents: best proficiency on the required skills, then the longest idle.

Agent-first preview: an agent offered or accepting a callback is held for it (state
``RESERVED``, contact ``callback:<id>``), so no other caller is offered to them; the
callback's call, queued naming that agent, goes to them before the queue order.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

from hotline_streams.frozen import replace
from hotline_streams.routing.models import (
    TIER_RANK,
    Agent,
    AgentState,
    Assignment,
    Contact,
    FreeIndex,
    Profile,
    QueueRouting,
    RoutingState,
    callback_hold,
    is_free,
    profile_of,
)

RONA_REASON = "ring-no-answer"
DEFAULT_RING_TIMEOUT_S = 15.0  # QueueRouting's default, for queues not configured
# A callback hold longer than this is stale (its end was never seen: a scheduler died, an
# event was dead-lettered): the agent is free again. Covers the preview (20 s by default),
# the dial (up to 60 s of ringing) and the queueing of the answered call, with margin.
CALLBACK_HOLD_MAX_S = 180.0


def with_agents(state: RoutingState, changed: Mapping[str, Agent | None],
                contacts: dict[str, Contact] | None = None) -> RoutingState:
    """A new state with ``changed`` agents (None: logged out) and, if given, ``contacts``;
    the free-agent index follows the change (copies of the changed profiles' lists, no
    scan of the agents)."""
    agents = dict(state.agents)
    free = dict(state.free)
    copied: set[Profile] = set()

    def group(profile: Profile) -> list[tuple[float, str]]:
        if profile not in copied:
            free[profile] = list(free.get(profile, ()))
            copied.add(profile)
        return free[profile]

    for agent_id, agent in changed.items():
        old = state.agents.get(agent_id)
        if old is not None and is_free(old):
            members = group(profile_of(old))
            at = bisect.bisect_left(members, (old.idle_since, agent_id))
            if at < len(members) and members[at] == (old.idle_since, agent_id):
                del members[at]
        if agent is None:
            agents.pop(agent_id, None)
            continue
        agents[agent_id] = agent
        if is_free(agent):
            bisect.insort(group(profile_of(agent)), (agent.idle_since, agent_id))
    for profile in copied:
        if not free[profile]:
            del free[profile]
    return RoutingState.indexed(state.tenant, state.contacts if contacts is None else contacts,
                                agents, free)


def queue_order(contact: Contact) -> tuple[int, int, int, float, str]:
    return (TIER_RANK[contact.tier], -contact.priority, 0 if contact.returned_to_head else 1,
            contact.enqueued_at, contact.call_id)


def acceptable_skills(contact: Contact, rules: QueueRouting | None,
                      now: float) -> list[tuple[frozenset[str], str | None]]:
    """Skill sets the contact accepts now: its own, then any overflow now due."""
    sets: list[tuple[frozenset[str], str | None]] = [(contact.required_skills, None)]
    if rules is not None:
        waited = now - contact.enqueued_at
        for rule in rules.overflow:
            if waited >= rule.after_s:
                sets.append((rule.required_skills, rule.to_queue or rules.queue))
    return sets


def qualifies(agent: Agent, skills: frozenset[str], language: str | None) -> bool:
    return (agent.state is AgentState.READY and agent.contact is None
            and skills <= agent.skills.keys()
            and (language is None or language in agent.languages))


def best_agent(agents: Iterable[Agent], skills: frozenset[str],
               language: str | None) -> tuple[Agent | None, int]:
    """The best of ``agents`` (all ready and free) for the skills, and how many qualified:
    best proficiency on the skills, then the longest idle. (``decide`` gets the same
    answer from the free-agent index; this is its plain definition.)"""
    best: Agent | None = None
    best_key: tuple[int, float, str] | None = None
    count = 0
    for agent in agents:
        if language is not None and language not in agent.languages:
            continue
        held = agent.skills
        if not skills <= held.keys():
            continue
        count += 1
        key = (-sum(held[s] for s in skills), agent.idle_since, agent.agent_id)
        if best_key is None or key < best_key:
            best, best_key = agent, key
    return best, count


def _best_free(free: FreeIndex, skills: frozenset[str],
               language: str | None) -> tuple[Profile | None, int]:
    """``best_agent`` over the index: the profile whose first (longest idle) agent is the
    best, and how many free agents qualified. One look per profile, not per agent."""
    best: Profile | None = None
    best_key: tuple[int, float, str] | None = None
    count = 0
    for profile, members in free.items():
        held, languages = profile
        if language is not None and language not in languages:
            continue
        levels = dict(held)
        if not skills <= levels.keys():
            continue
        count += len(members)
        idle_since, agent_id = members[0]
        key = (-sum(levels[s] for s in skills), idle_since, agent_id)
        if best_key is None or key < best_key:
            best, best_key = profile, key
    return best, count


def holds_for(agent: Agent, contact: Contact) -> bool:
    """The agent is free, or holds nothing but the reservation for this contact's
    callback: the contact may be offered to them."""
    if is_free(agent):
        return True
    return (contact.callback_id is not None and contact.reserved_for == agent.agent_id
            and agent.state is AgentState.RESERVED
            and agent.contact == callback_hold(contact.callback_id))


def _reserved_matches(state: RoutingState, waiting: list[Contact], free: FreeIndex,
                      now: float) -> list[Assignment]:
    """Callback calls whose reserved agent can take them, before the queue order; the
    free agents among those leave this round's ``free``."""
    decisions: list[Assignment] = []
    for contact in waiting:
        agent = state.agents.get(contact.reserved_for or "")
        if agent is None or not holds_for(agent, contact) \
                or any(d.agent_id == agent.agent_id for d in decisions):
            continue  # logged out, on another contact, not ready: normal routing
        if is_free(agent):
            profile = profile_of(agent)
            members = [m for m in free.get(profile, ()) if m[1] != agent.agent_id]
            if members:
                free[profile] = members
            else:
                free.pop(profile, None)
        decisions.append(Assignment(contact.call_id, agent.agent_id, contact.queue,
                                    waited_s=now - contact.enqueued_at, reserved=True))
    return decisions


def decide(state: RoutingState, rules: dict[str, QueueRouting],
           now: float) -> list[Assignment]:
    """Match waiting contacts to ready agents; each at most once per decision round.

    A callback's call reserved for an agent goes to that agent first (if they hold
    only that reservation or are free); otherwise it is routed like any contact."""
    waiting = [c for c in state.contacts.values() if c.offered_to is None]
    if not waiting:
        return []
    free = dict(state.free)  # this round's: a profile's list is copied before it shrinks
    reserved = [c for c in waiting if c.reserved_for is not None]
    decisions = _reserved_matches(state, sorted(reserved, key=queue_order), free, now) \
        if reserved else []
    if not free:
        return decisions  # the common case under load: nothing (more) to match
    taken = {d.call_id for d in decisions}
    for contact in sorted(waiting, key=queue_order):
        if contact.call_id in taken:
            continue
        if not free:
            break
        for skills, via in acceptable_skills(contact, rules.get(contact.queue), now):
            profile, candidates = _best_free(free, skills, contact.language)
            if profile is not None:
                members = free[profile][1:]
                agent_id = free[profile][0][1]
                if members:
                    free[profile] = members
                else:
                    del free[profile]
                decisions.append(Assignment(contact.call_id, agent_id, contact.queue,
                                            via_overflow=via, waited_s=now - contact.enqueued_at,
                                            candidates=candidates))
                break
    return decisions


def apply(state: RoutingState, assignment: Assignment,
          now: float | None = None) -> RoutingState:
    """Record an offer: the contact rings the agent, the agent is reserved.

    Refuses an assignment that would offer a contact twice or give an agent two
    contacts: replays after a crash hit this, and must change nothing.
    """
    contact = state.contacts.get(assignment.call_id)
    agent = state.agents.get(assignment.agent_id)
    if contact is None or agent is None or contact.offered_to is not None \
            or not holds_for(agent, contact):
        return state
    contacts = dict(state.contacts)
    contacts[contact.call_id] = replace(contact, offered_to=agent.agent_id,
                                        offered_at=now if now is not None else contact.offered_at)
    return with_agents(state, {agent.agent_id: replace(
        agent, state=AgentState.RESERVED, contact=contact.call_id, busy_since=now)}, contacts)


def ring_no_answer(state: RoutingState, call_id: str,
                   agent_id: str | None = None) -> RoutingState:
    """The offered agent did not answer: agent not ready, contact back at the head.

    With ``agent_id``, only if the contact still rings that agent (a media node's late
    report must not hit the agent the contact was offered to next).
    """
    contact = state.contacts.get(call_id)
    if contact is None or contact.offered_to is None \
            or (agent_id is not None and contact.offered_to != agent_id):
        return state
    contacts = dict(state.contacts)
    changed: dict[str, Agent | None] = {}
    agent = state.agents.get(contact.offered_to)
    if agent is not None and agent.contact == call_id:
        changed[agent.agent_id] = replace(agent, state=AgentState.NOT_READY,
                                          not_ready_reason=RONA_REASON, contact=None)
    contacts[call_id] = replace(contact, offered_to=None, offered_at=None,
                                returned_to_head=True)
    return with_agents(state, changed, contacts)


def answered(state: RoutingState, call_id: str) -> RoutingState:
    """The agent answered: the contact leaves the queue, the agent is busy."""
    contact = state.contacts.get(call_id)
    if contact is None:
        return state
    contacts = dict(state.contacts)
    del contacts[call_id]
    changed: dict[str, Agent | None] = {}
    if contact.offered_to and contact.offered_to in state.agents:
        changed[contact.offered_to] = replace(state.agents[contact.offered_to],
                                              state=AgentState.BUSY)
    return with_agents(state, changed, contacts)


def expired_offers(state: RoutingState, rules: dict[str, QueueRouting],
                   now: float) -> list[tuple[str, str]]:
    """(call, agent) of offers ringing at least their queue's ring timeout by ``now``."""
    due = []
    for contact in state.contacts.values():
        if contact.offered_to is None or contact.offered_at is None:
            continue
        queue = rules.get(contact.queue)
        timeout = queue.ring_timeout_s if queue is not None else DEFAULT_RING_TIMEOUT_S
        if now - contact.offered_at >= timeout:
            due.append(contact)
    return [(c.call_id, c.offered_to or "") for c in sorted(due, key=queue_order)]


def hold_for_callback(state: RoutingState, agent_id: str, callback_id: str,
                      at: float) -> RoutingState:
    """Agent-first preview: the agent is held for the callback (offered or accepted), if
    free; an agent on another contact or not ready is left alone (never two contacts).
    Another agent still holding the same callback (an earlier preview) is released."""
    hold = callback_hold(callback_id)
    state = release_callback_hold(state, callback_id, keep=agent_id)
    agent = state.agents.get(agent_id)
    if agent is None or not is_free(agent):
        return state
    return with_agents(state, {agent_id: replace(agent, state=AgentState.RESERVED,
                                                 contact=hold, busy_since=at)})


def release_callback_hold(state: RoutingState, callback_id: str, agent_id: str | None = None,
                          keep: str | None = None) -> RoutingState:
    """The preview or the callback ended without the call reaching the agent: whoever
    holds it (``agent_id``, else any agent but ``keep``) is ready again, still as idle
    as before. Callback events are rare: scanning the agents here is fine."""
    hold = callback_hold(callback_id)
    holders = [state.agents[agent_id]] if agent_id is not None and agent_id in state.agents \
        else [] if agent_id is not None else list(state.agents.values())
    changed: dict[str, Agent | None] = {
        a.agent_id: replace(a, state=AgentState.READY, contact=None, busy_since=None)
        for a in holders
        if a.contact == hold and a.state is AgentState.RESERVED and a.agent_id != keep}
    return with_agents(state, changed) if changed else state


def stale_callback_holds(state: RoutingState, now: float,
                         max_s: float = CALLBACK_HOLD_MAX_S) -> list[tuple[str, str]]:
    """(agent, callback) of callback holds older than ``max_s``: their end was missed."""
    prefix = callback_hold("")
    return sorted((a.agent_id, a.contact[len(prefix):]) for a in state.agents.values()
                  if a.state is AgentState.RESERVED and a.contact is not None
                  and a.contact.startswith(prefix) and a.busy_since is not None
                  and now - a.busy_since >= max_s)
