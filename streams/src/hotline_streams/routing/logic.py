"""Routing decisions as plain functions.

Order of waiting contacts: caller tier (VIP first), then priority, then a contact
returned after ring-no-answer, then the longest wait (original enqueue time, so a
callback keeps its place instead of jumping the line). Among qualifying ready
agents: best proficiency on the required skills, then the longest idle.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import replace

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
    is_free,
    profile_of,
)

RONA_REASON = "ring-no-answer"
DEFAULT_RING_TIMEOUT_S = 15.0  # QueueRouting's default, for queues not configured


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


def decide(state: RoutingState, rules: dict[str, QueueRouting],
           now: float) -> list[Assignment]:
    """Match waiting contacts to ready agents; each at most once per decision round."""
    waiting = [c for c in state.contacts.values() if c.offered_to is None]
    if not waiting or not state.free:
        return []  # the common case under load: nothing to match
    free = dict(state.free)  # this round's: a profile's list is copied before it shrinks
    decisions: list[Assignment] = []
    for contact in sorted(waiting, key=queue_order):
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
            or agent.state is not AgentState.READY or agent.contact is not None:
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
