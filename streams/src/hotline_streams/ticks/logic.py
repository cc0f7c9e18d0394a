"""A tenant's "now": event time, carried forward by wall-clock time between events.

Decisions stay replayable: the wall-clock part comes from the input record's Kafka
timestamp, not from the processing host, so a replay after a crash computes the same
``now`` from the same records. Event time never goes back (late or mirrored events do
not rewind it), and a burst of historic events moves it only as far as they say.
"""

from __future__ import annotations

from hotline_streams.ticks.models import Clock


def now_at(clock: Clock, wall_s: float) -> float:
    """Event time projected to ``wall_s`` (never before the clock)."""
    return clock.event_s + max(0.0, wall_s - clock.wall_s) if clock.wall_s else clock.event_s


def advance(clock: Clock, event_s: float | None, wall_s: float) -> tuple[Clock, float]:
    """The clock after an input record (an event at ``event_s``, or a tick when None)
    seen at ``wall_s``, and the resulting ``now``."""
    projected = now_at(clock, wall_s)
    now = projected if event_s is None else max(event_s, projected)
    return Clock(event_s=max(now, clock.event_s), wall_s=max(wall_s, clock.wall_s)), now
