"""Wait estimates from the caller's place in line and the agents' expected free times.

Asterisk announces an exponential average of past holds and ignores position; here
each waiting contact, in routing order across the tenant's queues, takes the
qualifying agent expected to be free first (a ready agent now, a busy one at its
call's start + AHT), and that agent is then busy for another AHT. The contact's
estimate is that agent's free time. Contacts nobody qualified is staffed for get
their queue's recent wait average scaled by position (``no-agents``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hotline_streams.estimates.models import Estimate, Server, Waiting

# A call already past AHT is expected to last this fraction of AHT more: handle times
# are skewed (a long call tends to go on); 0.2 scored best in
# benchmarks/streams_estimates.py against 0.1, 0.3 and 0.5.
OVERDUE_FRACTION = 0.2


def expected_free_at(busy_since: float | None, aht_s: float, now: float) -> float:
    """When an agent holding a contact since ``busy_since`` is expected to be free."""
    if busy_since is None:
        return now
    end = busy_since + aht_s
    return end if end > now else now + OVERDUE_FRACTION * aht_s


def estimate(waiting: Iterable[Waiting], servers: Iterable[Server],
             aht_s: Mapping[str, float], now: float,
             fallback_wait_s: Mapping[str, float] | None = None) -> list[Estimate]:
    """Estimates for ``waiting`` (already in routing order); ``aht_s`` per queue."""
    free = {s.agent_id: s for s in servers}
    positions: dict[str, int] = {}
    out: list[Estimate] = []
    for contact in waiting:
        positions[contact.queue] = position = positions.get(contact.queue, 0) + 1
        candidates = [s for s in free.values() if contact.required_skills <= s.skills]
        if not candidates:
            base = (fallback_wait_s or {}).get(contact.queue, aht_s.get(contact.queue, 180.0))
            out.append(Estimate(contact.call_id, contact.queue, position,
                                round(base * position, 1), "no-agents"))
            continue
        first = min(candidates, key=lambda s: (s.free_at, s.agent_id))
        out.append(Estimate(contact.call_id, contact.queue, position,
                            round(max(0.0, first.free_at - now), 1), "agents-free-times"))
        free[first.agent_id] = Server(first.agent_id, first.skills,
                                      max(first.free_at, now) + aht_s.get(contact.queue, 180.0))
    return out


def ewma(previous: float | None, value: float, weight: float = 0.2) -> float:
    """Exponentially weighted average (Asterisk's hold-time announcement is one)."""
    return value if previous is None else previous + weight * (value - previous)
