"""Plain data for routing decisions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class AgentState(StrEnum):
    LOGGED_OUT = "logged-out"
    READY = "ready"
    RESERVED = "reserved"  # offered a contact, ringing
    BUSY = "busy"
    WRAP_UP = "wrap-up"
    NOT_READY = "not-ready"


class CallerTier(StrEnum):
    VIP = "vip"
    STANDARD = "standard"


TIER_RANK = {CallerTier.VIP: 0, CallerTier.STANDARD: 1}


@dataclass(frozen=True)
class Agent:
    agent_id: str
    tenant: str
    state: AgentState
    skills: dict[str, int]  # skill → proficiency 1 (basic) … 5 (expert)
    languages: frozenset[str] = frozenset()
    idle_since: float = 0.0  # when the agent last became ready
    not_ready_reason: str | None = None
    contact: str | None = None  # the call the agent holds (one voice contact at a time)
    busy_since: float | None = None  # when the contact it holds was offered or answered
    logged_in_at: float | None = None  # staffed time of the session starts here
    wrap_up_since: float | None = None  # after-call work started


@dataclass(frozen=True)
class OverflowRule:
    """After ``after_s`` of waiting, a contact also accepts agents with these skills."""

    after_s: float
    required_skills: frozenset[str]
    to_queue: str | None = None  # reported in the decision when the rule is another queue's


@dataclass(frozen=True)
class QueueRouting:
    queue: str
    overflow: tuple[OverflowRule, ...] = ()
    ring_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        afters = [r.after_s for r in self.overflow]
        if afters != sorted(afters) or any(a <= 0 for a in afters):
            raise ValueError(f"queue {self.queue}: overflow rules need increasing after_s > 0")


@dataclass(frozen=True)
class Contact:
    call_id: str
    tenant: str
    queue: str
    required_skills: frozenset[str]
    enqueued_at: float  # a callback keeps its original time: it keeps its place in line
    tier: CallerTier = CallerTier.STANDARD
    priority: int = 0  # higher first, within a tier
    language: str | None = None
    returned_to_head: bool = False  # after a ring-no-answer
    offered_to: str | None = None  # the agent it is ringing, if any
    offered_at: float | None = None  # when that ringing began (ring-no-answer timeout)
    callback_id: str | None = None  # a callback's call: the callback it answers
    reserved_for: str | None = None  # agent-first preview: the agent who accepted it


@dataclass(frozen=True)
class Assignment:
    call_id: str
    agent_id: str
    queue: str
    via_overflow: str | None = None  # the queue whose rule made the match, if any
    waited_s: float = 0.0
    candidates: int = 1  # ready agents that qualified
    reserved: bool = False  # offered to the agent reserved for it (agent-first preview)


CALLBACK_HOLD = "callback:"  # an agent's contact while reserved for a previewed callback


def callback_hold(callback_id: str) -> str:
    """The contact an agent holds while reserved for a callback in preview: not a call,
    so the agent is neither free nor offered another contact until it ends."""
    return CALLBACK_HOLD + callback_id


def is_free(agent: Agent) -> bool:
    """Ready and holding no contact: can be offered one now."""
    return agent.state is AgentState.READY and agent.contact is None


# Agents with the same skills (and proficiencies) and languages are interchangeable but
# for their idle time: the free ones are indexed per such profile, longest idle first.
Profile = tuple[tuple[tuple[str, int], ...], tuple[str, ...]]
FreeIndex = dict[Profile, list[tuple[float, str]]]  # profile → sorted (idle_since, agent id)


def profile_of(agent: Agent) -> Profile:
    return tuple(sorted(agent.skills.items())), tuple(sorted(agent.languages))


def free_index(agents: Iterable[Agent]) -> FreeIndex:
    index: FreeIndex = {}
    for agent in agents:
        if is_free(agent):
            index.setdefault(profile_of(agent), []).append((agent.idle_since, agent.agent_id))
    for group in index.values():
        group.sort()
    return index


@dataclass
class RoutingState:
    """One routing domain (tenant): its waiting contacts and its agents.

    ``free`` indexes the free agents (``is_free``) by profile, longest idle first. Why:
    a decision otherwise scans every agent (1,000 of them at a busy tenant), per event;
    with the index it looks at one agent per profile. It is not a field (not
    checkpointed): built from ``agents`` on construction and decoding, and kept up to date
    by ``routing.logic.with_agents``, the one place agents change (which builds the next
    state with ``indexed``, without a scan). Treat it as read-only.
    """

    tenant: str
    contacts: dict[str, Contact] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.free: FreeIndex = free_index(self.agents.values())

    @classmethod
    def indexed(cls, tenant: str, contacts: dict[str, Contact], agents: dict[str, Agent],
                free: FreeIndex) -> RoutingState:
        """A state whose free-agent index is already known (no scan of the agents)."""
        state = cls.__new__(cls)
        state.tenant, state.contacts, state.agents, state.free = tenant, contacts, agents, free
        return state


@dataclass(frozen=True)
class QueueRecent:
    """What a queue saw lately: the base of arrival rate, AHT and wait estimates."""

    arrivals: dict[int, int] = field(default_factory=dict)  # minute (epoch // 60) → queued
    aht_s: float | None = None  # weighted average handle time of completed contacts
    wait_s: float | None = None  # weighted average wait of answered contacts
