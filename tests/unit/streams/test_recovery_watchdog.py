"""When the worker restarts a table recovery: stalled, not merely slow or done."""

from __future__ import annotations

from hotline_streams.health.logic import RECOVERY_STALL_S, stalled_recovery

HIGHWATERS = {"routing-books-3": 9, "sla-state-3": 9, "routing-books-5": -1}
FROM_START = {"routing-books-3": -1, "sla-state-3": -1, "routing-books-5": -1}


def check(**changes: object) -> list[str]:
    args: dict[str, object] = {
        "in_recovery": True, "started_at": 100.0, "now": 100.0 + RECOVERY_STALL_S,
        "received_any": False, "highwaters": HIGHWATERS, "offsets": FROM_START}
    args.update(changes)
    return stalled_recovery(**args)  # type: ignore[arg-type]


def test_nothing_received_for_the_stall_time_with_records_to_read_is_stalled() -> None:
    assert check() == ["routing-books-3", "sla-state-3"]  # the empty partition is not


def test_a_recovery_that_received_records_or_is_young_or_over_is_left_alone() -> None:
    assert check(received_any=True) == []
    assert check(now=100.0 + RECOVERY_STALL_S - 0.1) == []
    assert check(in_recovery=False) == []
    assert check(started_at=None) == []


def test_partitions_already_read_up_to_their_highwater_are_not_stuck() -> None:
    assert check(offsets={"routing-books-3": 9, "sla-state-3": 9}) == []
