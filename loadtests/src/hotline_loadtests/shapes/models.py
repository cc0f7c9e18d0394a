"""A load shape and the caller mix, as plain data (from CLI options or a YAML file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ShapeKind(StrEnum):
    STEADY = "steady"  # a flat arrival rate
    MONTH_START = "month-start"  # a broad peak: ramps to xpeak over the first third, holds, eases
    PROMOTION_SURGE = "promotion-surge"  # x5 within minutes, then an exponential decay


@dataclass(frozen=True)
class Shape:
    kind: ShapeKind = ShapeKind.STEADY
    base_rate: float = 0.5  # calls per second outside the peak
    duration_s: float = 300.0
    peak_factor: float = 5.0  # the surge/peak multiplier of the base rate
    surge_at_s: float = 60.0  # promotion surge: when the announcement goes out
    rise_s: float = 120.0  # promotion surge: from base to peak ("within minutes")
    decay_s: float = 300.0  # promotion surge: time constant of the decay back to base


@dataclass(frozen=True)
class QueueMix:
    queue: str
    share: float  # of arrivals
    dialled_number: str  # the DNIS that leads straight into this queue
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallerMix:
    tenant: str = "demo-bank"
    vip_share: float = 0.1
    queues: tuple[QueueMix, ...] = field(default_factory=lambda: (
        QueueMix("general", 0.7, "+498001000", ("general",)),
        QueueMix("cards", 0.3, "+498002000", ("cards",)),
    ))
    patience_mean_s: float = 90.0  # exponential patience: how long a caller waits in queue
    talk_mean_s: float = 60.0
    wrap_up_mean_s: float = 10.0
    ivr_seconds: float = 4.0  # time from answer to the queue (speed-dial numbers)
