"""A tenant's open SLA intervals as plain data, driven by event time.

``record`` folds a changed contact outcome into its interval (replacing the previous
outcome of the same contact); ``advance`` moves the tenant's watermark (the latest
event time seen) and closes intervals: an interval is *final* once the watermark
passes its end, and a late outcome within ``grace_s`` after the end corrects it
(emitted again, still final). Later than that an outcome is dropped and reported.
Each emitted ``Emit`` is the interval's full current state, so the newest record
per key is always right (the SLA topic is compacted on that key).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hotline_streams.frozen import replace
from hotline_streams.service_levels.logic import add, interval_start, remove
from hotline_streams.service_levels.models import (
    ContactOutcome,
    IntervalCounts,
    Occupancy,
    QueueSettings,
)
from hotline_streams.ticks.models import Clock

SettingsFor = Callable[[str], QueueSettings]


@dataclass(frozen=True)
class OpenInterval:
    queue: str
    start: float
    interval_s: int
    counts: IntervalCounts = field(default_factory=IntervalCounts)
    final_sent: bool = False
    dirty: bool = False  # changed since its last provisional emit (when those are batched)

    @property
    def end(self) -> float:
        return self.start + self.interval_s


@dataclass(frozen=True)
class SlaBook:
    tenant: str
    watermark: float = 0.0
    intervals: dict[str, OpenInterval] = field(default_factory=dict)  # key: "queue/start"
    # Position of the last event counted, per partition of the worker's input: a replay
    # after a crash (offsets behind the stored book) is recognised and not counted twice.
    applied: dict[int, int] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)  # the tenant's "now" (see ticks.logic)
    # Per queue, outcomes per minute of the last hour: the sliding windows (windows.py).
    minutes: dict[str, dict[int, IntervalCounts]] = field(default_factory=dict)
    occupancy: Occupancy = field(default_factory=Occupancy)  # agents' time (occupancy.py)
    # Required skills of queues missing from the tenant file, as their calls queued
    # them: whose agents staff such a queue (occupancy.py).
    learned_skills: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Emit:
    interval: OpenInterval
    final: bool


def interval_key(queue: str, start: float) -> str:
    return f"{queue}/{start:.0f}"


def record(book: SlaBook, previous: ContactOutcome | None, current: ContactOutcome,
           settings_for: SettingsFor, grace_s: float,
           emit_provisional: bool = True) -> tuple[SlaBook, list[Emit], bool]:
    """Fold a changed outcome; returns the book, what to emit, and False if dropped.

    With ``emit_provisional=False`` an open interval is only marked dirty (``flush``
    emits it later, e.g. once a tick); a change to a final interval is emitted at once.
    """
    settings = settings_for(current.queue)
    start = interval_start(current.enqueued_at, settings.interval_s)
    key = interval_key(current.queue, start)
    interval = book.intervals.get(key)
    if interval is None:
        if start + settings.interval_s + grace_s < book.watermark:
            return book, [], False  # beyond the grace period: that interval is history
        interval = OpenInterval(queue=current.queue, start=start, interval_s=settings.interval_s)
    counts = interval.counts
    if previous is not None and interval_key(previous.queue, interval_start(
            previous.enqueued_at, settings.interval_s)) == key:
        counts = remove(counts, previous, settings)
    counts = add(counts, current, settings)
    final = interval.end <= book.watermark
    emit = final or emit_provisional
    interval = replace(interval, counts=counts, final_sent=interval.final_sent or final,
                       dirty=not emit)
    intervals = dict(book.intervals)
    intervals[key] = interval
    return replace(book, intervals=intervals), [Emit(interval, final)] if emit else [], True


def flush(book: SlaBook) -> tuple[SlaBook, list[Emit]]:
    """Provisional emits of the open intervals changed since their last emit."""
    dirty = {k: iv for k, iv in book.intervals.items() if iv.dirty}
    if not dirty:
        return book, []
    cleaned = {k: replace(iv, dirty=False) for k, iv in dirty.items()}
    return (replace(book, intervals={**book.intervals, **cleaned}),
            [Emit(iv, False) for iv in cleaned.values()])


def advance(book: SlaBook, now: float, grace_s: float) -> tuple[SlaBook, list[Emit]]:
    """Move the watermark to ``now`` (never back); emit finals of intervals that ended."""
    if now <= book.watermark:
        return book, []
    emits: list[Emit] = []
    intervals: dict[str, OpenInterval] = {}
    for key, interval in sorted(book.intervals.items(), key=lambda kv: (kv[1].start, kv[0])):
        if interval.end <= now and not interval.final_sent:
            interval = replace(interval, final_sent=True, dirty=False)
            emits.append(Emit(interval, True))
        if interval.end + grace_s >= now:
            intervals[key] = interval  # still open for late corrections
    return replace(book, watermark=now, intervals=intervals), emits
