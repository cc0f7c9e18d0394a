"""Plain data for the operator's leader election."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LeaseRecord:
    """A Lease as read from the API server (only what the election needs)."""

    holder: str | None
    duration_s: float
    transitions: int
    version: str  # metadata.resourceVersion: changes on every renewal


@dataclass(frozen=True)
class Observation:
    """A Lease and when this replica first saw that version of it (its own clock).

    Timing by local observation, not by the renewTime written in the Lease, keeps
    the election correct when the two replicas' clocks disagree.
    """

    record: LeaseRecord | None
    seen_at: float  # monotonic seconds


@dataclass(frozen=True)
class ElectionSettings:
    lease_name: str
    namespace: str
    identity: str
    duration_s: float = 5.0  # a dead leader is replaced after about this long

    @property
    def renew_every_s(self) -> float:
        return self.duration_s / 5

    @property
    def give_up_after_s(self) -> float:
        # The leader stops acting well before a standby may take over (after a full
        # duration without seeing a renewal), so two replicas never act at once.
        return self.duration_s * 0.6

    def __post_init__(self) -> None:
        if self.duration_s < 2:
            raise ValueError(f"lease duration {self.duration_s}s is below 2 s: renewals "
                             "could not keep up with API server latency")
