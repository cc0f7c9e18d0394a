"""Pure: the arrival rate of a shape at time t, and Poisson arrivals that follow it."""

from __future__ import annotations

import functools
import math
import random

from hotline_loadtests.shapes.models import CallerMix, QueueMix, Shape, ShapeKind


def arrival_rate(shape: Shape, t: float) -> float:
    """Calls per second ``t`` seconds into the run (0 after the run)."""
    if t < 0 or t >= shape.duration_s:
        return 0.0
    base, peak = shape.base_rate, shape.base_rate * shape.peak_factor
    if shape.kind is ShapeKind.STEADY:
        return base
    if shape.kind is ShapeKind.MONTH_START:
        third = shape.duration_s / 3
        if t < third:  # morning ramp
            return base + (peak - base) * t / third
        if t < 2 * third:
            return peak
        return peak - (peak - base) * (t - 2 * third) / third
    # Promotion surge: the base until the announcement, a linear rise to the peak within
    # `rise_s`, then an exponential decay back towards the base.
    if t < shape.surge_at_s:
        return base
    since = t - shape.surge_at_s
    if since < shape.rise_s:
        return base + (peak - base) * since / shape.rise_s
    return base + (peak - base) * math.exp(-(since - shape.rise_s) / shape.decay_s)


@functools.lru_cache(maxsize=64)
def peak_rate(shape: Shape, step_s: float = 1.0) -> float:
    steps = int(shape.duration_s / step_s) + 1
    return max(arrival_rate(shape, i * step_s) for i in range(steps))


def expected_calls(shape: Shape, step_s: float = 1.0) -> float:
    steps = int(shape.duration_s / step_s)
    return sum(arrival_rate(shape, (i + 0.5) * step_s) * step_s for i in range(steps))


def next_arrival(shape: Shape, t: float, rng: random.Random) -> float | None:
    """The next arrival after ``t`` of a non-homogeneous Poisson process with the shape's
    rate (thinning against the peak rate); None when the run ends first."""
    ceiling = peak_rate(shape)
    if ceiling <= 0:
        return None
    while True:
        t += rng.expovariate(ceiling)
        if t >= shape.duration_s:
            return None
        if rng.random() * ceiling <= arrival_rate(shape, t):
            return t


def pick_queue(mix: CallerMix, rng: random.Random) -> QueueMix:
    total = sum(q.share for q in mix.queues)
    x = rng.random() * total
    for q in mix.queues:
        x -= q.share
        if x <= 0:
            return q
    return mix.queues[-1]


def users_needed(shape: Shape, mix: CallerMix) -> int:
    """Concurrent callers at the peak (Little's law: rate x time in system), with
    headroom: the number of Locust caller users a run needs."""
    in_system = mix.ivr_seconds + min(mix.patience_mean_s, 120) + mix.talk_mean_s
    return max(1, math.ceil(peak_rate(shape) * in_system * 1.5))
