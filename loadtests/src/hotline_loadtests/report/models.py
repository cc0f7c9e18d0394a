"""What a run report is made of, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StageStats:
    """One row of Locust's statistics (a call stage or a produce)."""

    kind: str
    name: str
    count: int
    failures: int
    median_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class QueueOutcome:
    """A queue's service over the whole run, summed from the SLA topic's intervals."""

    tenant: str
    queue: str
    intervals: int
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    callback_requests: int
    service_level: float | None
    target: float
    asa_s: float | None
    abandon_rate: float | None


@dataclass(frozen=True)
class Sample:
    """One point of the timeline: seconds into the run."""

    t: float
    arrivals_per_s: float = 0.0
    waiting: int = 0
    service_level: float | None = None


@dataclass
class Report:
    title: str
    started_at: float
    ended_at: float
    shape: str
    stages: list[StageStats] = field(default_factory=list)
    queues: list[QueueOutcome] = field(default_factory=list)
    timeline: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
