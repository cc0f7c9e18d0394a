"""Leader election decisions: who may take the operator's Lease, and when to step down."""

from __future__ import annotations

import pytest

from hotline_operators.leadership.logic import lease_spec, may_acquire, observe, still_leading
from hotline_operators.leadership.models import ElectionSettings, LeaseRecord
from hotline_operators.leadership.wiring import settings_from_env

HELD = LeaseRecord(holder="op-1", duration_s=5, transitions=1, version="10")


def test_a_missing_or_released_lease_is_free() -> None:
    assert may_acquire(observe(None, None, 0.0), "op-2", 0.0)
    released = LeaseRecord(holder=None, duration_s=1, transitions=1, version="11")
    assert may_acquire(observe(None, released, 0.0), "op-2", 0.0)


def test_a_renewed_lease_is_not_taken() -> None:
    seen = observe(None, HELD, 100.0)
    renewed = LeaseRecord("op-1", 5, 1, "12")
    seen = observe(seen, renewed, 104.0)  # a new version: the holder is alive
    assert seen.seen_at == 104.0
    assert not may_acquire(seen, "op-2", 108.0)


def test_a_lease_unchanged_for_its_duration_is_taken() -> None:
    seen = observe(None, HELD, 100.0)
    seen = observe(seen, HELD, 103.0)  # same version: keeps the first sighting
    assert seen.seen_at == 100.0
    assert not may_acquire(seen, "op-2", 104.9)
    assert may_acquire(seen, "op-2", 105.1)


def test_the_holder_may_always_renew() -> None:
    assert may_acquire(observe(None, HELD, 0.0), "op-1", 0.0)


def test_the_leader_steps_down_before_a_standby_may_take_over() -> None:
    settings = ElectionSettings("hotline-operator", "ns", "op-1", duration_s=5)
    assert settings.give_up_after_s < settings.duration_s
    assert still_leading(100.0, 102.9, settings.give_up_after_s)
    assert not still_leading(100.0, 103.1, settings.give_up_after_s)


def test_taking_over_counts_a_transition_and_renewing_does_not() -> None:
    taken = lease_spec(HELD, "op-2", 5, "2026-01-01T00:00:00.000000Z")
    assert (taken["holderIdentity"], taken["leaseTransitions"]) == ("op-2", 2)
    assert "acquireTime" in taken
    renewed = lease_spec(HELD, "op-1", 5, "2026-01-01T00:00:01.000000Z")
    assert renewed["leaseTransitions"] == 1 and "acquireTime" not in renewed
    assert lease_spec(None, "op-1", 5, "t")["leaseTransitions"] == 1


def test_settings_come_from_the_environment() -> None:
    assert settings_from_env({}) is None
    s = settings_from_env({"HOTLINE_OPERATOR_LEASE": "hotline-operator",
                           "POD_NAMESPACE": "site-a", "HOTLINE_OPERATOR_ID": "op-1",
                           "HOTLINE_OPERATOR_LEASE_SECONDS": "4"})
    assert s == ElectionSettings("hotline-operator", "site-a", "op-1", 4.0)


def test_a_lease_too_short_to_renew_is_rejected() -> None:
    with pytest.raises(ValueError, match="below 2 s"):
        ElectionSettings("l", "ns", "op-1", duration_s=1)
