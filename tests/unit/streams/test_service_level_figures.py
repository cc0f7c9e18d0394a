"""Service-level figures: DESIGN.md's ICMI fixture and a hand-computed log."""

from __future__ import annotations

import pytest

from hotline_streams.service_levels.logic import (
    add,
    by_interval,
    figures,
    interval_start,
    service_level,
)
from hotline_streams.service_levels.models import (
    AbandonTreatment,
    ContactOutcome,
    IntervalCounts,
    Outcome,
    QueueSettings,
)

ICMI = IntervalCounts(offered=1060, answered=1000, answered_within_t=860, abandoned=60,
                      abandoned_within_t=20, short_abandons=10)


@pytest.mark.parametrize(("treatment", "expected"), [
    (AbandonTreatment.IGNORED, 0.860),
    (AbandonTreatment.AGAINST, 0.819),
    (AbandonTreatment.MET_WITHIN_T, 0.830),
])
def test_icmi_worked_fixture(treatment: AbandonTreatment, expected: float) -> None:
    value = service_level(ICMI, treatment)
    assert value is not None
    assert round(value, 3) == expected


def contact(call: str, at: float, outcome: Outcome, wait: float,
            handle: float = 0.0) -> ContactOutcome:
    return ContactOutcome(call, "billing", at, outcome, wait, handle)


SETTINGS = QueueSettings(queue="billing", threshold_s=20, short_abandon_s=5)
T0 = 1_700_000_100.0 - (1_700_000_100.0 % 900)  # an interval boundary


def test_a_small_log_by_hand() -> None:
    log = [
        contact("c1", T0 + 1, Outcome.ANSWERED, 10, handle=200),
        contact("c2", T0 + 2, Outcome.ANSWERED, 20, handle=100),  # exactly T: met
        contact("c3", T0 + 3, Outcome.ANSWERED, 21, handle=300),  # just over T
        contact("c4", T0 + 4, Outcome.ABANDONED, 4),  # short abandon
        contact("c5", T0 + 5, Outcome.ABANDONED, 5),  # at the short threshold: short
        contact("c6", T0 + 6, Outcome.ABANDONED, 40),
        contact("c7", T0 + 7, Outcome.CALLBACK, 90),  # not an abandon
        contact("c8", T0 + 899, Outcome.ANSWERED, 2, handle=60),  # last second of interval
        contact("c9", T0 + 900, Outcome.ANSWERED, 2, handle=60),  # next interval
    ]
    intervals = by_interval(log, SETTINGS)
    assert sorted(intervals) == [T0, T0 + 900]
    first = figures(intervals[T0], SETTINGS, T0, staffed_s=2 * 900)
    assert (first.offered, first.answered, first.answered_within_t) == (8, 4, 3)
    assert (first.abandoned, first.short_abandons, first.callbacks) == (3, 2, 1)
    # answered within T ÷ (answered + abandoned - short abandons) = 3 ÷ (4 + 3 - 2)
    assert first.service_level == pytest.approx(3 / 5)
    assert first.asa_s == pytest.approx((10 + 20 + 21 + 2) / 4)
    assert first.abandon_rate == pytest.approx(1 / 5)
    assert first.aht_s == pytest.approx((200 + 100 + 300 + 60) / 4)
    assert first.occupancy == pytest.approx(660 / 1800)
    second = figures(intervals[T0 + 900], SETTINGS, T0 + 900)
    assert (second.offered, second.service_level, second.occupancy) == (1, 1.0, None)


def test_a_late_outcome_corrects_its_own_interval() -> None:
    counts = by_interval([contact("c1", T0 + 10, Outcome.ANSWERED, 5, 100)], SETTINGS)[T0]
    # The caller who arrived at T0+800 and abandoned after 300 s ends in the next
    # interval but belongs to this one.
    corrected = add(counts, contact("c2", T0 + 800, Outcome.ABANDONED, 300), SETTINGS)
    assert figures(corrected, SETTINGS, T0).service_level == pytest.approx(1 / 2)


def test_empty_interval_has_no_ratios() -> None:
    empty = figures(IntervalCounts(), SETTINGS, T0)
    assert empty.service_level is None and empty.asa_s is None and empty.abandon_rate is None


def test_only_short_abandons_give_no_service_level() -> None:
    counts = add(IntervalCounts(), contact("c1", T0, Outcome.ABANDONED, 1), SETTINGS)
    assert service_level(counts, AbandonTreatment.AGAINST) is None


def test_interval_edges() -> None:
    assert interval_start(T0, 900) == T0
    assert interval_start(T0 + 899.999, 900) == T0
    assert interval_start(T0 + 900, 900) == T0 + 900


def test_bad_queue_settings_name_the_queue_and_field() -> None:
    with pytest.raises(ValueError, match="queue vip: target"):
        QueueSettings(queue="vip", target=1.2)
    with pytest.raises(ValueError, match="interval_s"):
        QueueSettings(queue="vip", interval_s=7 * 60)
