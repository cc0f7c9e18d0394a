"""Pure: the SLA topic's intervals summed per queue, and the timeline of a run.

Service level over several intervals is Σ numerators ÷ Σ denominators with the
queue's own abandon treatment (the streams' formula, imported, not restated): the
mean of per-interval percentages would weigh a quiet interval like a busy one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from hotline_events.models.metrics import QueueStatistics, SlaInterval
from hotline_loadtests.report.models import QueueOutcome, Sample
from hotline_streams.service_levels.logic import service_level
from hotline_streams.service_levels.models import AbandonTreatment, IntervalCounts

_TREATMENTS = {"ignored": AbandonTreatment.IGNORED, "against": AbandonTreatment.AGAINST,
               "within-threshold-met": AbandonTreatment.MET_WITHIN_T}


def latest_intervals(intervals: Iterable[SlaInterval]) -> list[SlaInterval]:
    """The last record per (tenant, queue, interval): a final or a late correction
    replaces the provisional ones, as compaction does."""
    last: dict[tuple[str, str, float], SlaInterval] = {}
    for interval in intervals:
        last[(interval.tenant, interval.queue, interval.interval_start.timestamp())] = interval
    return list(last.values())


def queue_outcomes(intervals: Iterable[SlaInterval]) -> list[QueueOutcome]:
    by_queue: dict[tuple[str, str], list[SlaInterval]] = defaultdict(list)
    for interval in latest_intervals(intervals):
        by_queue[(interval.tenant, interval.queue)].append(interval)
    out: list[QueueOutcome] = []
    for (tenant, queue), rows in sorted(by_queue.items()):
        counts = IntervalCounts(
            offered=sum(r.offered for r in rows), answered=sum(r.answered for r in rows),
            answered_within_t=sum(r.answered_within_threshold for r in rows),
            abandoned=sum(r.abandoned for r in rows),
            abandoned_within_t=sum(r.abandoned_within_threshold for r in rows),
            short_abandons=sum(r.short_abandons for r in rows),
            callbacks=sum(r.callback_requests for r in rows))
        waits = [(r.asa_seconds, r.answered) for r in rows if r.asa_seconds is not None]
        answered_with_asa = sum(n for _, n in waits)
        asa = (sum(a * n for a, n in waits) / answered_with_asa) if answered_with_asa else None
        denominator = counts.offered - counts.short_abandons
        out.append(QueueOutcome(
            tenant=tenant, queue=queue, intervals=len(rows), offered=counts.offered,
            answered=counts.answered, abandoned=counts.abandoned,
            short_abandons=counts.short_abandons, callback_requests=counts.callbacks,
            service_level=service_level(counts, _TREATMENTS[rows[-1].abandon_treatment]),
            target=rows[-1].target, asa_s=asa,
            abandon_rate=((counts.abandoned - counts.short_abandons) / denominator
                          if denominator > 0 else None)))
    return out


def timeline(started_at: float, ended_at: float, arrivals: Iterable[float],
             statistics: Iterable[QueueStatistics], intervals: Iterable[SlaInterval],
             step_s: float = 10.0) -> list[Sample]:
    """Arrivals per second, callers waiting (all queues) and the service level of the
    interval in progress, every ``step_s`` seconds of the run."""
    steps = max(1, int((ended_at - started_at) // step_s) + 1)
    arrived = [0] * steps
    for t in arrivals:
        i = int((t - started_at) // step_s)
        if 0 <= i < steps:
            arrived[i] += 1
    waiting: list[dict[tuple[str, str], int]] = [{} for _ in range(steps)]
    for stats in statistics:
        i = int((stats.as_of.timestamp() - started_at) // step_s)
        if 0 <= i < steps:
            waiting[i][(stats.tenant, stats.queue)] = stats.waiting
    level: list[float | None] = [None] * steps
    rows = latest_intervals(intervals)
    for i in range(steps):
        t = started_at + i * step_s
        current = [r for r in rows if r.interval_start.timestamp() <= t
                   < r.interval_start.timestamp() + r.interval_seconds
                   and r.service_level is not None]
        if current:
            level[i] = min(r.service_level for r in current if r.service_level is not None)
    samples: list[Sample] = []
    last_waiting: dict[tuple[str, str], int] = {}
    for i in range(steps):
        last_waiting.update(waiting[i])  # a queue keeps its last published value
        samples.append(Sample(t=i * step_s, arrivals_per_s=arrived[i] / step_s,
                              waiting=sum(last_waiting.values()), service_level=level[i]))
    return samples
