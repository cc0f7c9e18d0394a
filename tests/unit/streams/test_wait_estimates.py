"""Wait estimates: position in its queue, agents' expected free times, no-agent fallback."""

from __future__ import annotations

from hotline_streams.estimates.logic import estimate, ewma, expected_free_at
from hotline_streams.estimates.models import Server, Waiting

NOW = 1_000.0
CARDS = frozenset({"cards"})


def waiting(*calls: tuple[str, str]) -> list[Waiting]:
    return [Waiting(call, queue, frozenset({queue}), NOW - 10) for call, queue in calls]


def test_a_ready_agent_means_no_wait_and_the_next_caller_waits_for_the_first_free() -> None:
    servers = [Server("a1", CARDS, NOW), Server("a2", CARDS, NOW + 40)]
    got = estimate(waiting(("c1", "cards"), ("c2", "cards"), ("c3", "cards")), servers,
                   {"cards": 100.0}, NOW)
    assert [(e.call_id, e.position, e.wait_s) for e in got] == [
        ("c1", 1, 0.0), ("c2", 2, 40.0), ("c3", 3, 100.0)]  # a1 free again at now + 100
    assert {e.method for e in got} == {"agents-free-times"}


def test_positions_count_per_queue_and_agents_only_serve_their_skills() -> None:
    servers = [Server("a1", CARDS, NOW + 30), Server("l1", frozenset({"loans"}), NOW + 5)]
    got = estimate(waiting(("c1", "cards"), ("l1c", "loans"), ("c2", "cards")), servers,
                   {"cards": 60.0, "loans": 60.0}, NOW)
    assert [(e.call_id, e.position, e.wait_s) for e in got] == [
        ("c1", 1, 30.0), ("l1c", 1, 5.0), ("c2", 2, 90.0)]


def test_nobody_staffed_falls_back_to_the_recent_wait_times_position() -> None:
    got = estimate(waiting(("c1", "cards"), ("c2", "cards")), [], {"cards": 60.0}, NOW,
                   {"cards": 45.0})
    assert [(e.position, e.wait_s, e.method) for e in got] == [
        (1, 45.0, "no-agents"), (2, 90.0, "no-agents")]


def test_busy_agents_are_expected_free_at_call_start_plus_aht_or_soon_if_overdue() -> None:
    assert expected_free_at(NOW - 50, 180.0, NOW) == NOW + 130
    assert expected_free_at(NOW - 500, 180.0, NOW) == NOW + 36  # overdue: a fifth of AHT
    assert expected_free_at(None, 180.0, NOW) == NOW
    assert ewma(None, 10.0) == 10.0 and ewma(10.0, 20.0) == 12.0
