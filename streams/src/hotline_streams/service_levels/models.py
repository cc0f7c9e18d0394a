"""Plain data for service-level computation: settings, contact outcomes, counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hotline_streams.recent import Recent


class AbandonTreatment(StrEnum):
    """How abandoned contacts enter the service level (vendors disagree)."""

    IGNORED = "ignored"  # answered within T ÷ answered
    AGAINST = "against"  # answered within T ÷ (offered - short abandons): the default
    MET_WITHIN_T = "met-within-threshold"  # (answered + abandoned within T) ÷ offered


class Outcome(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    CALLBACK = "callback"  # left the queue with a callback request: not an abandon


@dataclass(frozen=True)
class QueueSettings:
    queue: str
    threshold_s: float = 20.0  # T
    target: float = 0.80
    short_abandon_s: float = 5.0
    abandon_treatment: AbandonTreatment = AbandonTreatment.AGAINST
    interval_s: int = 15 * 60

    def __post_init__(self) -> None:
        if self.threshold_s <= 0:
            raise ValueError(f"queue {self.queue}: threshold_s must be > 0")
        if not 0 < self.target <= 1:
            raise ValueError(f"queue {self.queue}: target must be in (0, 1]")
        if self.short_abandon_s < 0:
            raise ValueError(f"queue {self.queue}: short_abandon_s must be ≥ 0")
        if self.interval_s <= 0 or 86400 % self.interval_s:
            raise ValueError(f"queue {self.queue}: interval_s must divide a day")


@dataclass(frozen=True)
class ContactOutcome:
    """How one contact's wait in a queue ended (one per call and queue)."""

    call_id: str
    queue: str
    enqueued_at: float  # epoch seconds; decides the interval the contact belongs to
    outcome: Outcome
    wait_s: float
    handle_s: float = 0.0  # talk + hold + wrap-up, for answered contacts


@dataclass(frozen=True)
class IntervalCounts:
    """Additive counts for one queue and interval; figures derive from them."""

    offered: int = 0
    answered: int = 0
    answered_within_t: int = 0
    abandoned: int = 0  # including short abandons
    abandoned_within_t: int = 0
    short_abandons: int = 0
    callbacks: int = 0
    answered_wait_s: float = 0.0
    handle_s: float = 0.0
    handled: int = 0  # answered contacts whose handle time is known


@dataclass(frozen=True)
class IntervalFigures:
    queue: str
    interval_start: float
    offered: int
    answered: int
    answered_within_t: int
    abandoned: int
    short_abandons: int
    callbacks: int
    service_level: float | None  # None when nothing counts toward it yet
    asa_s: float | None
    abandon_rate: float | None
    aht_s: float | None
    occupancy: float | None


@dataclass(frozen=True)
class AgentClock:
    """An agent's time as occupancy sees it: logged in, handling a contact or not, and
    the time up to which its seconds are already counted."""

    skills: frozenset[str]
    since: float
    handling: bool = False  # talking (hold included) or in wrap-up


@dataclass(frozen=True)
class AgentSeconds:
    """Counted seconds of a queue's agents in one interval."""

    staffed_s: float = 0.0
    handling_s: float = 0.0


@dataclass(frozen=True)
class Occupancy:
    """A tenant's logged-in agents and, per queue and interval start, the seconds of the
    segments already closed (open segments are added when read)."""

    agents: dict[str, AgentClock] = field(default_factory=dict)
    seconds: dict[str, dict[int, AgentSeconds]] = field(default_factory=dict)
    seen_ids: Recent = ()  # recent event ids folded (a replayed input comes again)
    # The same per queue and minute (epoch // 60) of the last hour: the sliding windows.
    minutes: dict[str, dict[int, AgentSeconds]] = field(default_factory=dict)
