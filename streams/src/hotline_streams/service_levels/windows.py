"""Sliding windows (last 5/15/60 minutes) of a queue's figures, from per-minute counts.

A contact counts in the minute its wait ended (answered, abandoned, callback), so
"the last 5 minutes" are the outcomes the wallboard saw happen lately; a completed
call's handle time corrects its minute's counts like an interval's.
"""

from __future__ import annotations

from hotline_streams.service_levels.logic import add, figures, remove
from hotline_streams.service_levels.models import (
    AgentSeconds,
    ContactOutcome,
    IntervalCounts,
    IntervalFigures,
    QueueSettings,
)

WINDOWS_MIN = (5, 15, 60)
KEEP_MIN = max(WINDOWS_MIN)

Minutes = dict[int, IntervalCounts]  # minute (epoch // 60) → counts


def minute_of(outcome: ContactOutcome) -> int:
    return int((outcome.enqueued_at + outcome.wait_s) // 60)


def note(minutes: Minutes, previous: ContactOutcome | None, current: ContactOutcome,
         settings: QueueSettings) -> Minutes:
    """Counts after an outcome changed (``previous`` replaced by ``current``)."""
    out = dict(minutes)
    if previous is not None and minute_of(previous) in out:
        out[minute_of(previous)] = remove(out[minute_of(previous)], previous, settings)
    m = minute_of(current)
    out[m] = add(out.get(m, IntervalCounts()), current, settings)
    return out


def prune(minutes: Minutes, now: float) -> Minutes:
    oldest = int(now // 60) - KEEP_MIN
    return {m: c for m, c in minutes.items() if m > oldest}


def window_start(now: float, length_min: int) -> float:
    """Where the last ``length_min`` minutes, the current one included, begin."""
    return (int(now // 60) - length_min + 1) * 60.0


def window(minutes: Minutes, now: float, length_min: int, settings: QueueSettings,
           agents: AgentSeconds | None = None) -> IntervalFigures:
    """Figures of the last ``length_min`` minutes, the current one included; ``agents``:
    the queue's staffed and handling seconds in them (occupancy.seconds_since)."""
    current = int(now // 60)
    total = IntervalCounts()
    for m, counts in minutes.items():
        if current - length_min < m <= current:
            total = IntervalCounts(**{k: getattr(total, k) + getattr(counts, k)
                                      for k in IntervalCounts.__dataclass_fields__})
    agents = agents or AgentSeconds()
    return figures(total, settings, window_start(now, length_min), agents.staffed_s,
                   agents.handling_s if agents.staffed_s > 0 else None)
