"""Service-level arithmetic (DESIGN.md definitions), over plain data.

A contact belongs to the interval in which it entered the queue, so an interval's
figures describe the callers who arrived in it; a contact still waiting when the
interval closes is counted when it ends (a late correction within the grace
period).
"""

from __future__ import annotations

from collections.abc import Iterable

from hotline_streams.frozen import replace
from hotline_streams.service_levels.models import (
    AbandonTreatment,
    ContactOutcome,
    IntervalCounts,
    IntervalFigures,
    Outcome,
    QueueSettings,
)


def interval_start(timestamp: float, interval_s: int) -> float:
    return timestamp - (timestamp % interval_s)


def add(counts: IntervalCounts, contact: ContactOutcome, settings: QueueSettings) -> IntervalCounts:
    within_t = contact.wait_s <= settings.threshold_s
    if contact.outcome is Outcome.ANSWERED:
        known = contact.handle_s > 0
        return replace(
            counts,
            offered=counts.offered + 1,
            answered=counts.answered + 1,
            answered_within_t=counts.answered_within_t + within_t,
            answered_wait_s=counts.answered_wait_s + contact.wait_s,
            handle_s=counts.handle_s + contact.handle_s,
            handled=counts.handled + known,
        )
    if contact.outcome is Outcome.ABANDONED:
        short = contact.wait_s <= settings.short_abandon_s
        return replace(
            counts,
            offered=counts.offered + 1,
            abandoned=counts.abandoned + 1,
            abandoned_within_t=counts.abandoned_within_t + within_t,
            short_abandons=counts.short_abandons + short,
        )
    return replace(counts, offered=counts.offered + 1, callbacks=counts.callbacks + 1)


def service_level(counts: IntervalCounts, treatment: AbandonTreatment) -> float | None:
    """Fraction met, or None when no contact counts toward it yet.

    Callback requests are neither answered nor abandoned: they leave every
    denominator (the callback has its own figures).
    """
    if treatment is AbandonTreatment.IGNORED:
        num, den = counts.answered_within_t, counts.answered
    elif treatment is AbandonTreatment.AGAINST:
        num = counts.answered_within_t
        den = counts.answered + counts.abandoned - counts.short_abandons
    else:
        num = counts.answered_within_t + counts.abandoned_within_t
        den = counts.answered + counts.abandoned
    return num / den if den > 0 else None


def figures(counts: IntervalCounts, settings: QueueSettings, start: float,
            staffed_s: float = 0.0, handling_s: float | None = None) -> IntervalFigures:
    """All interval figures. Occupancy needs the agents' staffed seconds, and their
    handling seconds in the interval (``occupancy.seconds_in``); without those, the
    handle time of the interval's contacts stands in."""
    handled = counts.handle_s if handling_s is None else handling_s
    real_abandons = counts.abandoned - counts.short_abandons
    abandon_base = counts.answered + real_abandons
    return IntervalFigures(
        queue=settings.queue,
        interval_start=start,
        offered=counts.offered,
        answered=counts.answered,
        answered_within_t=counts.answered_within_t,
        abandoned=counts.abandoned,
        short_abandons=counts.short_abandons,
        callbacks=counts.callbacks,
        service_level=service_level(counts, settings.abandon_treatment),
        asa_s=counts.answered_wait_s / counts.answered if counts.answered else None,
        abandon_rate=real_abandons / abandon_base if abandon_base else None,
        aht_s=counts.handle_s / counts.handled if counts.handled else None,
        occupancy=min(1.0, handled / staffed_s) if staffed_s > 0 else None,
    )


def by_interval(contacts: Iterable[ContactOutcome],
                settings: QueueSettings) -> dict[float, IntervalCounts]:
    """Batch form: counts per interval start for one queue's contacts."""
    result: dict[float, IntervalCounts] = {}
    for contact in contacts:
        if contact.queue != settings.queue:
            continue
        start = interval_start(contact.enqueued_at, settings.interval_s)
        result[start] = add(result.get(start, IntervalCounts()), contact, settings)
    return result


def remove(counts: IntervalCounts, contact: ContactOutcome,
           settings: QueueSettings) -> IntervalCounts:
    """Undo ``add`` of the same contact (a corrected outcome replaces the old one)."""
    added = add(IntervalCounts(), contact, settings)
    return IntervalCounts(**{name: getattr(counts, name) - getattr(added, name)
                             for name in IntervalCounts.__dataclass_fields__})
