"""A caller's plan and what became of the call, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True)
class CallPlan:
    """What one caller will do: dial, key ``digits`` in the IVR, wait ``patience_s`` in
    the queue at most, talk ``talk_s`` once an agent answers."""

    caller_number: str  # unique per call: its caller token finds the call's events
    service_number: str  # the entry point dialled (the edge's request URI user)
    queue: str
    digits: str
    patience_s: float
    talk_s: float


class Ending(StrEnum):
    ANSWERED = "answered"  # talked to an agent, then hung up
    ABANDONED = "abandoned"  # hung up in the queue at the end of patience
    NOT_QUEUED = "not-queued"  # never reached a queue (IVR or platform hung up)
    FAILED = "failed"


@dataclass
class CallTimeline:
    """What the platform published about one call (from cc.call.events), in event time."""

    call_id: str | None = None
    offered_at: float | None = None
    ivr_answered_at: float | None = None
    queued_at: float | None = None
    queue: str | None = None
    answered_at: float | None = None
    agent_id: str | None = None
    wait_s: float | None = None  # the platform's own figure (answered or abandoned)
    abandoned_at: float | None = None
    completed_at: float | None = None
    talk_s: float | None = None
    types: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Stage:
    """One sample for Locust's statistics: ``name`` took ``ms`` (or failed)."""

    name: str
    ms: float
    error: str | None = None
