"""Occupancy per queue and interval from agent state (DESIGN.md: handle time ÷ staffed
time), pure.

An agent is staffed from logging in to logging out, and handling from answering a
contact until its wrap-up ends (or it goes ready, not ready, or logs out): talk, hold
and wrap-up. Its seconds count for every queue whose required skills it has (the
configured queues, and those missing from the tenant file from their first queued call,
``adapters.learn_skills``), in the intervals they fall in, and (the last hour) in
minutes for the sliding windows. Segments are closed at each agent event; an open one
counts up to ``now`` when read, so a provisional interval shows the occupancy so far.
Events are folded in the tenant's order; one that claims an earlier time than the
agent's last counts at that last time (time never goes back for an agent), and one seen
before (same event id, replayed) is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping

from hotline_events.envelope import Event
from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    WrapUpEnded,
)
from hotline_events.models.calls import CallAnswered
from hotline_streams.frozen import replace
from hotline_streams.recent import holds, remember
from hotline_streams.service_levels.models import AgentClock, AgentSeconds, Occupancy

SEEN_IDS = 256  # agent event ids remembered: duplicates come from recent offsets
QueueSkills = Mapping[str, tuple[frozenset[str], int]]  # queue → (required skills, interval_s)
MINUTES_KEPT = 60  # per-minute seconds for the sliding windows (windows.WINDOWS_MIN)
Buckets = dict[str, dict[int, AgentSeconds]]


def _add(buckets: dict[int, AgentSeconds], since: float, until: float, size: int,
         handling: bool, key: int = 1) -> None:
    """Add [since, until) to the buckets of ``size`` seconds it overlaps (keyed by
    start ÷ ``key``: interval starts, or minutes)."""
    start = int(since // size) * size
    while start < until:
        overlap = min(until, start + size) - max(since, start)
        if overlap > 0:
            had = buckets.get(start // key, AgentSeconds())
            buckets[start // key] = AgentSeconds(had.staffed_s + overlap,
                                                 had.handling_s + (overlap if handling else 0.0))
        start += size


def _kept(buckets: dict[int, AgentSeconds], bound: float, width: int = 0,
          ) -> dict[int, AgentSeconds]:
    """The buckets that end at or after ``bound`` (key + width ≥ bound): the same dict
    when none ends before, as for most events (rebuilding on every event was costly)."""
    if all(key + width >= bound for key in buckets):
        return buckets
    return {key: s for key, s in buckets.items() if key + width >= bound}


def _spread(seconds: Buckets, minutes: Buckets, clock: AgentClock, until: float,
            queues: QueueSkills) -> None:
    """Add the agent's segment [since, until) to each of its queues' intervals and (the
    last hour of it) minutes."""
    if until <= clock.since:
        return
    recent = max(clock.since, until - MINUTES_KEPT * 60)
    for queue, (skills, interval_s) in queues.items():
        if not skills <= clock.skills:
            continue
        _add(seconds.setdefault(queue, {}), clock.since, until, interval_s, clock.handling)
        _add(minutes.setdefault(queue, {}), recent, until, 60, clock.handling, key=60)


def fold_agent(occupancy: Occupancy, event: Event, queues: QueueSkills,
               keep_after: float) -> Occupancy:
    """The occupancy after one event (the same object when it is not about agent time).
    Buckets of intervals that ended before ``keep_after`` are dropped (past the grace)."""
    data = event.data
    if not isinstance(data, AgentLoggedIn | AgentLoggedOut | AgentReady | AgentNotReady
                      | WrapUpEnded | CallAnswered):
        return occupancy
    if holds(occupancy.seen_ids, event.id):
        return occupancy  # a replay (e.g. the intake's after a crash): already counted
    agent_id = data.agent_id
    clock = occupancy.agents.get(agent_id)
    if clock is None and not isinstance(data, AgentLoggedIn):
        return occupancy  # not logged in as far as we know: no staffed time to count
    at = event.time.timestamp()
    seconds = {q: dict(b) for q, b in occupancy.seconds.items()}
    minutes = {q: dict(b) for q, b in occupancy.minutes.items()}
    agents = dict(occupancy.agents)
    if clock is not None:
        at = max(at, clock.since)
        _spread(seconds, minutes, clock, at, queues)
    if isinstance(data, AgentLoggedIn):
        agents[agent_id] = AgentClock(skills=frozenset(s.skill for s in data.skills), since=at,
                                      handling=clock.handling if clock is not None else False)
    elif isinstance(data, AgentLoggedOut):
        del agents[agent_id]
    else:
        assert clock is not None
        agents[agent_id] = replace(clock, since=at, handling=isinstance(data, CallAnswered))
    for queue, buckets in seconds.items():  # intervals past the grace go
        seconds[queue] = _kept(buckets, keep_after, queues[queue][1] if queue in queues else 0)
    first_minute = int(at // 60) - MINUTES_KEPT + 1  # minutes past the hour go
    for queue, buckets in minutes.items():
        minutes[queue] = _kept(buckets, first_minute)
    return Occupancy(agents=agents, seconds=seconds, minutes=minutes,
                     seen_ids=remember(occupancy.seen_ids, event.id, SEEN_IDS))


def _with_open(closed: AgentSeconds, occupancy: Occupancy, queue: str, queues: QueueSkills,
               start: float, end: float) -> AgentSeconds:
    """``closed`` plus the open segments of the queue's agents within [start, end)."""
    if queue not in queues:
        return closed
    skills = queues[queue][0]
    staffed, handling = closed.staffed_s, closed.handling_s
    for clock in occupancy.agents.values():
        if skills <= clock.skills:
            overlap = end - max(clock.since, start)
            if overlap > 0:
                staffed += overlap
                handling += overlap if clock.handling else 0.0
    return AgentSeconds(staffed, handling)


def seconds_in(occupancy: Occupancy, queue: str, start: float, queues: QueueSkills,
               now: float) -> AgentSeconds:
    """The queue's staffed and handling seconds in the interval at ``start``, the open
    segments counted up to ``now``."""
    closed = occupancy.seconds.get(queue, {}).get(int(start), AgentSeconds())
    interval_s = queues[queue][1] if queue in queues else 0
    return _with_open(closed, occupancy, queue, queues, start, min(now, start + interval_s))


def seconds_since(occupancy: Occupancy, queue: str, start: float, queues: QueueSkills,
                  now: float) -> AgentSeconds:
    """The queue's staffed and handling seconds from ``start`` (a minute boundary within
    the last hour) up to ``now``: a sliding window's, open segments included."""
    first = int(start // 60)
    closed = [s for m, s in occupancy.minutes.get(queue, {}).items() if m >= first]
    return _with_open(AgentSeconds(sum(s.staffed_s for s in closed),
                                   sum(s.handling_s for s in closed)),
                      occupancy, queue, queues, start, now)
