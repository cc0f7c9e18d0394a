"""Plain data for wait estimates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Server:
    """An agent as the estimator sees it: skills and when they are expected to be free."""

    agent_id: str
    skills: frozenset[str]
    free_at: float


@dataclass(frozen=True)
class Waiting:
    """A waiting contact, in routing order (``routing.logic.queue_order``)."""

    call_id: str
    queue: str
    required_skills: frozenset[str]
    enqueued_at: float


@dataclass(frozen=True)
class Estimate:
    call_id: str
    queue: str
    position: int  # 1 = next in its queue
    wait_s: float  # estimated remaining wait from ``now``
    method: str  # "agents-free-times", or "no-agents" when nobody can take it
