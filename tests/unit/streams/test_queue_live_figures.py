"""Live queue figures from routing state: agents by state, longest wait, Erlang C
staffing and the surge level, wait estimates per contact; sliding SLA windows."""

from __future__ import annotations

from hotline_events.models.metrics import QueueStatistics, WaitEstimate
from hotline_streams.config.loader import parse
from hotline_streams.queue_stats.logic import arrivals_per_minute, live_figures, staffing
from hotline_streams.routing.models import Agent, AgentState, Contact, QueueRecent, RoutingState
from hotline_streams.service_levels.models import (
    ContactOutcome,
    IntervalCounts,
    Outcome,
    QueueSettings,
)
from hotline_streams.service_levels.windows import note, prune, window

NOW = 1_800_000_000.0  # a whole minute
CONFIG = parse({"tenant": "bank", "queues": {"cards": {"required_skills": ["cards"]}}})


def agent(agent_id: str, state: AgentState, contact: str | None = None,
          busy_since: float | None = None) -> Agent:
    return Agent(agent_id, "bank", state, {"cards": 3}, contact=contact, busy_since=busy_since)


def test_statistics_count_agents_by_state_and_the_longest_wait() -> None:
    state = RoutingState("bank", contacts={
        "c1": Contact("c1", "bank", "cards", frozenset({"cards"}), NOW - 50),
        "c2": Contact("c2", "bank", "cards", frozenset({"cards"}), NOW - 20),
        "c3": Contact("c3", "bank", "cards", frozenset({"cards"}), NOW - 5, offered_to="a2"),
    }, agents={"a1": agent("a1", AgentState.BUSY, "x", NOW - 60),
               "a2": agent("a2", AgentState.RESERVED, "c3", NOW - 1),
               "a3": agent("a3", AgentState.NOT_READY),
               "a4": agent("a4", AgentState.WRAP_UP, "y", NOW - 170)})
    recent = {"cards": QueueRecent(arrivals={int(NOW // 60) - 1: 30}, aht_s=120.0)}
    stats, estimates = live_figures(state, recent, CONFIG, "site-a", NOW)
    [(s, _, _)] = stats
    assert isinstance(s, QueueStatistics)
    assert (s.waiting, s.longest_wait_seconds, s.agents_staffed, s.agents_ready, s.agents_busy,
            s.agents_not_ready, s.agents_wrap_up) == (2, 50.0, 4, 0, 2, 1, 1)
    assert s.arrivals_per_minute == 2.0  # 30 in the last 15 whole minutes
    assert s.aht_seconds == 120.0
    # 2/min x 120 s = 4 erlangs: 6 agents give 79.6 %, so 80 % in 20 s needs 7; with
    # 3 taking calls the shortfall is 4/7 > 50 %: the deepest surge step
    assert (s.agents_needed, s.surge_level) == (7, 4)
    got = [(e.call_id, e.position) for e, _, _ in estimates if isinstance(e, WaitEstimate)]
    assert got == [("c1", 1), ("c2", 2)]  # c3 rings an agent: not waiting
    first = estimates[0][0]
    assert isinstance(first, WaitEstimate) and first.estimated_wait_seconds == 24.0  # a4 overdue


def test_staffing_covers_no_arrivals_and_unknown_aht() -> None:
    assert staffing(0.0, None, 20, 0.8, 3) == (0, 0)
    assert staffing(2.0, None, 20, 0.8, 3) == (None, None)
    # DESIGN.md: 100 calls / 30 min at AHT 180 s, 80 % in 20 s: 13 agents (79.56 %) miss
    assert staffing(100 / 30, 180.0, 20, 0.8, 14) == (14, 0)
    assert staffing(100 / 30, 180.0, 20, 0.8, 13)[1] == 1


def test_arrival_rate_uses_whole_minutes_of_the_last_quarter_hour() -> None:
    minute = int(NOW // 60)
    recent = QueueRecent(arrivals={minute: 99, minute - 1: 15, minute - 15: 15, minute - 16: 7})
    assert arrivals_per_minute(recent, NOW) == 2.0


def test_sliding_windows_count_outcomes_in_the_minute_they_ended() -> None:
    settings = QueueSettings(queue="cards")
    outcomes = [ContactOutcome("a", "cards", NOW - 600, Outcome.ANSWERED, 10.0),  # 10 min ago
                ContactOutcome("b", "cards", NOW - 120, Outcome.ANSWERED, 30.0),
                ContactOutcome("c", "cards", NOW - 60, Outcome.ABANDONED, 2.0),  # short
                ContactOutcome("d", "cards", NOW - 7200, Outcome.ABANDONED, 60.0)]  # pruned
    counts: dict[int, IntervalCounts] = {}
    for o in outcomes:
        counts = note(counts, None, o, settings)
    counts = prune(counts, NOW)
    five = window(counts, NOW, 5, settings)
    assert (five.offered, five.answered, five.answered_within_t, five.short_abandons) == (
        2, 1, 0, 1)
    assert five.service_level == 0.0 and five.asa_s == 30.0
    sixty = window(counts, NOW, 60, settings)
    assert (sixty.offered, sixty.answered, sixty.service_level) == (3, 2, 0.5)
    # a completion corrects the answered contact's handle time in its minute
    done = ContactOutcome("b", "cards", NOW - 120, Outcome.ANSWERED, 30.0, handle_s=200.0)
    counts = note(counts, outcomes[1], done, settings)
    assert window(counts, NOW, 5, settings).aht_s == 200.0
