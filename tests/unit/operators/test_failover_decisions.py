"""Failover and failback decisions, without servers (the witness's: test_witness_logic)."""

from __future__ import annotations

import pytest

from hotline_operators.failover.logic import (
    FAILBACK_STEPS,
    decide,
    heartbeat_refusal,
    remaining_steps,
    serving_failed,
)
from hotline_operators.failover.models import Action, PeerView, Timings, WitnessAnswer

T = Timings(heartbeat_interval_s=1, peer_timeout_s=5, hold_down_s=60)


def view(now: float, last_heartbeat: float | None, probe_ok: bool | None,
         healthy_since: float | None = None, watched_since: float | None = None) -> PeerView:
    return PeerView(now, last_heartbeat, probe_ok, healthy_since, watched_since)


def test_a_live_peer_is_left_alone() -> None:
    assert decide(view(100, 99, True), T, failed_over=False).action is Action.NONE


def test_silence_alone_is_not_enough_while_probes_answer() -> None:
    # Heartbeats come over the mirrored topic; MirrorMaker lag must not fail a live site.
    assert decide(view(100, 80, True), T, failed_over=False).action is Action.NONE


def test_silent_and_unprobeable_peer_needs_the_witness() -> None:
    assert decide(view(100, 94, False), T, failed_over=False).action is Action.ASK_WITNESS
    assert decide(view(100, None, False), T, failed_over=False).action is Action.ASK_WITNESS


def test_a_peer_never_heard_is_not_suspected_before_a_full_peer_timeout_of_watching() -> None:
    # Two sites created a moment apart: the first must not take over the second before
    # the second has had the chance to heartbeat (CI once saw cut-a take cut-b over).
    starting = view(103, None, False, watched_since=100)
    assert decide(starting, T, failed_over=False).action is Action.NONE
    later = view(106, None, False, watched_since=100)
    assert decide(later, T, failed_over=False).action is Action.ASK_WITNESS
    # A heartbeat once heard is judged by its age alone.
    assert decide(view(106, 100, False, watched_since=105), T,
                  failed_over=False).action is Action.ASK_WITNESS


@pytest.mark.parametrize(("answer", "action"), [
    (WitnessAnswer.GRANTED, Action.FAIL_OVER),
    (WitnessAnswer.REFUSED, Action.NONE),
    (WitnessAnswer.UNREACHABLE, Action.NONE),
])
def test_only_the_witness_lease_makes_a_majority(answer: WitnessAnswer, action: Action) -> None:
    assert decide(view(100, 90, False), T, failed_over=False, witness=answer).action is action


def test_failback_waits_for_the_hold_down() -> None:
    assert decide(view(100, 90, False), T, failed_over=True).action is Action.NONE
    early = decide(view(100, 99.5, True, healthy_since=50), T, failed_over=True)
    assert early.action is Action.NONE and "hold-down" in early.reason
    assert decide(view(111, 110.5, True, healthy_since=50), T,
                  failed_over=True).action is Action.FAIL_BACK


def test_timings_refuse_a_timeout_shorter_than_two_heartbeats() -> None:
    with pytest.raises(ValueError, match="peer_timeout_s"):
        Timings(heartbeat_interval_s=3, peer_timeout_s=5)


def test_failback_steps_resume_where_they_stopped() -> None:
    assert remaining_steps([], FAILBACK_STEPS) == FAILBACK_STEPS
    assert remaining_steps(["split-written", "scaled"], FAILBACK_STEPS) == (
        "announced", "released")
    assert FAILBACK_STEPS[-1] == "released", "the witness lease goes last"


def test_a_peer_being_handed_back_is_no_longer_served_here() -> None:
    assert serving_failed(["site-b", "site-c"], ["site-b"]) == ["site-c"]
    assert serving_failed(["site-b"], []) == ["site-b"]
    assert serving_failed([], ["site-b"]) == []


OPERATOR_B = "//hotline/site-b/operator/op-b-0"


def test_the_peers_own_heartbeat_counts_within_the_clock_skew() -> None:
    for at in (90.0, 100.0, 104.9):
        assert heartbeat_refusal(peer="site-b", site="site-b", source=OPERATOR_B, at=at,
                                 now=100.0) is None


@pytest.mark.parametrize(("site", "source", "at", "why"), [
    # Dated an hour ahead: it would keep a dead peer "alive" for that hour.
    ("site-b", OPERATOR_B, 3700.0, "ahead of this site's clock"),
    ("site-b", "//hotline/site-b/media-node/mn-1", 100.0, "is not site-b's operator"),
    ("site-b", "//hotline/site-c/operator/op-c", 100.0, "is not site-b's operator"),
    ("site-c", OPERATOR_B, 100.0, "not 'site-b'"),
])
def test_a_forged_heartbeat_does_not_count(site: str, source: str, at: float,
                                           why: str) -> None:
    refused = heartbeat_refusal(peer="site-b", site=site, source=source, at=at, now=100.0)
    assert refused is not None and why in refused
