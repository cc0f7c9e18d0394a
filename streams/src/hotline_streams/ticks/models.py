"""Plain data for a routing domain's clock."""

from __future__ import annotations

from dataclasses import dataclass

# A tick record on the tenant topic: this header, the tenant as key, no body; its
# Kafka timestamp is the wall-clock time it stands for.
TICK_HEADER = "hotline-streams-tick"


@dataclass(frozen=True)
class Clock:
    """Event time as far as a tenant has seen it, and the wall-clock time (the input
    record's Kafka timestamp) at which it got there. Both only move forward."""

    event_s: float = 0.0
    wall_s: float = 0.0
