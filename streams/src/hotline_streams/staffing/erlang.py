"""Erlang C, computed through the Erlang B recurrence.

The textbook factorial form overflows floats at contact-center sizes (a few hundred
agents); the recurrence B(n) = A·B(n-1) / (n + A·B(n-1)) stays in [0, 1] throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def offered_load(calls: float, period_s: float, aht_s: float) -> float:
    """Traffic intensity in erlangs: arrival rate x average handle time."""
    if period_s <= 0 or aht_s < 0 or calls < 0:
        raise ValueError(f"need calls ≥ 0, period > 0, AHT ≥ 0 (got {calls}, {period_s}, {aht_s})")
    return calls / period_s * aht_s


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability with ``agents`` servers and ``load`` erlangs."""
    if agents < 0 or load < 0:
        raise ValueError(f"agents and load must be ≥ 0 (got {agents}, {load})")
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return b


def probability_of_wait(agents: int, load: float) -> float:
    """Erlang C: the chance an arriving contact has to wait at all."""
    if agents <= load:
        return 1.0  # the queue grows without bound: everyone waits
    b = erlang_b(agents, load)
    return agents * b / (agents - load * (1 - b))


@dataclass(frozen=True)
class StaffingForecast:
    agents: int
    load_erlangs: float
    probability_of_wait: float
    asa_s: float
    service_level: float  # fraction answered within the threshold
    occupancy: float


def forecast(agents: int, load: float, aht_s: float, threshold_s: float) -> StaffingForecast:
    """What ``agents`` agents achieve against ``load`` erlangs (Erlang C)."""
    pw = probability_of_wait(agents, load)
    if agents <= load:
        return StaffingForecast(agents, load, 1.0, math.inf, 0.0, 1.0)
    asa = pw * aht_s / (agents - load)
    sl = 1.0 - pw * math.exp(-(agents - load) * threshold_s / aht_s) if aht_s > 0 else 1.0
    return StaffingForecast(agents, load, pw, asa, sl, load / agents)


def agents_needed(load: float, aht_s: float, threshold_s: float, target: float,
                  max_agents: int = 100_000) -> StaffingForecast:
    """The fewest agents whose forecast service level meets ``target`` (0-1)."""
    if not 0 < target < 1:
        raise ValueError(f"service-level target must be between 0 and 1 (got {target})")
    agents = max(1, math.floor(load) + 1)
    while agents <= max_agents:
        result = forecast(agents, load, aht_s, threshold_s)
        if result.service_level >= target:
            return result
        agents += 1
    raise ValueError(
        f"no staffing up to {max_agents} agents meets {target:.0%} at {load:.1f} erlangs")


# Backup tiers brought online in turn as a surge deepens (DOMAIN.md): 1 cancel
# breaks, 2 team leads, 3 QA staff, 4 retention teams. The thresholds are the
# shortfall of ready agents against the Erlang C requirement.
DEFAULT_SURGE_STEPS = (0.0, 0.10, 0.25, 0.50)


def surge_level(required_agents: int, ready_agents: int,
                steps: tuple[float, ...] = DEFAULT_SURGE_STEPS) -> int:
    """0 when ready agents cover the requirement, up to 4 as the shortfall grows."""
    if required_agents <= 0 or ready_agents >= required_agents:
        return 0
    shortfall = (required_agents - ready_agents) / required_agents
    return sum(1 for step in steps if shortfall > step)
