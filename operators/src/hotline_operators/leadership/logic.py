"""Who may hold the operator's Lease: plain functions over what a replica observed."""

from __future__ import annotations

from typing import Any

from hotline_operators.leadership.models import LeaseRecord, Observation


def observe(previous: Observation | None, record: LeaseRecord | None,
            now: float) -> Observation:
    """Remember when the Lease last changed; an unchanged version keeps its first sighting."""
    if (previous is not None and previous.record is not None and record is not None
            and previous.record.version == record.version):
        return previous
    return Observation(record, now)


def may_acquire(observation: Observation, identity: str, now: float) -> bool:
    """Free, ours already, or not renewed for a whole lease duration (its holder died)."""
    record = observation.record
    if record is None or not record.holder or record.holder == identity:
        return True
    return now - observation.seen_at > record.duration_s


def still_leading(last_renewed: float, now: float, give_up_after_s: float) -> bool:
    return now - last_renewed < give_up_after_s


def lease_spec(record: LeaseRecord | None, identity: str, duration_s: float,
               now_text: str) -> dict[str, Any]:
    """The Lease spec that claims (or renews) the lease for ``identity``."""
    taking_over = record is None or record.holder != identity
    spec: dict[str, Any] = {
        "holderIdentity": identity,
        "leaseDurationSeconds": max(1, round(duration_s)),
        "renewTime": now_text,
        "leaseTransitions": (record.transitions if record else 0) + (1 if taking_over else 0),
    }
    if taking_over:
        spec["acquireTime"] = now_text
    return spec
