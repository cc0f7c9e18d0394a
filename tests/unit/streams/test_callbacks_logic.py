"""Callback scheduling rules, on plain data: order, windows, quiet hours, retries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from hotline_streams.callbacks import logic
from hotline_streams.callbacks.config import PolicyError, load_policies, parse_policy
from hotline_streams.callbacks.models import (
    AgentView,
    Callback,
    CallbackPolicy,
    QueueCapacity,
    QuietHours,
    Status,
)

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
POLICY = CallbackPolicy(max_attempts=3, retry_backoff_s=60, retry_backoff_max_s=600)


def callback(callback_id: str = "cb-1", *, priority: int = 0, enqueued: float = NOON - 300,
             **changes: object) -> Callback:
    cb = Callback(callback_id=callback_id, tenant="acme", queue="billing",
                  call_id=f"call-{callback_id}",
                  caller_token="ct1_" + "0" * 64, caller_number="+4930123456",
                  reason="caller-request", priority=priority, original_enqueued_at=enqueued,
                  requested_at=NOON - 60, window_start=NOON - 60, window_end=NOON + 3600,
                  owner_site="site-a", due_at=NOON - 60)
    return replace(cb, **changes)  # type: ignore[arg-type]


def free(agents: int, waiting: int = 0) -> dict[tuple[str, str], QueueCapacity]:
    return {("acme", "billing"): QueueCapacity(agents_ready=agents, waiting=waiting)}


def test_vip_first_then_the_original_place_in_line() -> None:
    early = callback("early", enqueued=NOON - 900)
    late_vip = callback("vip", priority=5, enqueued=NOON - 60)
    late = callback("late", enqueued=NOON - 100)
    plan = logic.plan([late, early, late_vip], free(3), NOON, lambda _t: POLICY)
    assert [cb.callback_id for cb in plan.dial] == ["vip", "early", "late"]


def test_only_as_many_dials_as_agents_left_free_by_waiting_callers_and_dials_in_flight() -> None:
    flying = callback("flying", status=Status.COMMANDED, attempt=1, claim_expires=NOON + 10)
    others = [callback(f"cb-{i}", enqueued=NOON - 100 + i) for i in range(5)]
    plan = logic.plan([flying, *others], free(agents=4, waiting=1), NOON, lambda _t: POLICY)
    assert [cb.callback_id for cb in plan.dial] == ["cb-0", "cb-1"]
    assert logic.plan(others, free(agents=1, waiting=1), NOON, lambda _t: POLICY).dial == ()
    assert logic.plan(others, {}, NOON, lambda _t: POLICY).dial == ()


def test_a_stale_claim_resumes_the_same_attempt_with_the_same_command_id() -> None:
    stale = callback(status=Status.CLAIMED, attempt=1, claim_expires=NOON - 1)
    assert logic.next_attempt(stale, NOON) == 1
    assert logic.next_attempt(replace(stale, claim_expires=NOON + 1), NOON) is None
    assert logic.next_attempt(callback(attempt=1), NOON) == 2
    assert logic.command_id("cb-1", 1) == logic.command_id("cb-1", 1)
    assert logic.command_id("cb-1", 1) != logic.command_id("cb-1", 2)
    assert [cb.callback_id for cb in
            logic.plan([stale], free(1), NOON, lambda _t: POLICY).dial] == ["cb-1"]


def test_a_dial_a_node_went_silent_on_is_settled_not_redialled() -> None:
    silent = callback(status=Status.DIALLING, attempt=1, claim_expires=NOON - 1)
    plan = logic.plan([silent], free(1), NOON, lambda _t: POLICY)
    assert plan.dial == () and plan.resume == (silent,)


def test_the_window_bounds_dialling_and_expiry() -> None:
    later = callback(window_start=NOON + 600, due_at=NOON + 600)
    assert logic.plan([later], free(1), NOON, lambda _t: POLICY).dial == ()
    over = callback(window_end=NOON - 1)
    plan = logic.plan([over], free(1), NOON, lambda _t: POLICY)
    assert plan.expire == (over,) and plan.dial == ()


def test_quiet_hours_spanning_midnight_in_the_tenant_time_zone() -> None:
    berlin = CallbackPolicy(time_zone="Europe/Berlin",
                            quiet_hours=QuietHours(time(21, 0), time(8, 0)))
    tz = ZoneInfo("Europe/Berlin")
    at_2230 = datetime(2026, 11, 23, 22, 30, tzinfo=tz).timestamp()
    at_0700 = datetime(2026, 11, 24, 7, 0, tzinfo=tz).timestamp()
    at_1200 = datetime(2026, 11, 24, 12, 0, tzinfo=tz).timestamp()
    eight = datetime(2026, 11, 24, 8, 0, tzinfo=tz).timestamp()
    assert logic.quiet_until(at_2230, berlin) == eight
    assert logic.quiet_until(at_0700, berlin) == eight
    assert logic.quiet_until(at_1200, berlin) is None
    night = callback(due_at=at_2230, window_start=at_2230, window_end=at_2230 + 86400)
    assert logic.earliest_dial(night, berlin) == eight
    assert logic.plan([night], free(1), at_2230, lambda _t: berlin).dial == ()
    # A window that closes inside the quiet hours can never be served: it expires.
    short = replace(night, window_end=at_2230 + 3600)
    assert logic.plan([short], free(1), at_2230, lambda _t: berlin).expire == (short,)


def test_failures_back_off_then_stop_at_max_attempts() -> None:
    first = callback(status=Status.COMMANDED, attempt=1, claim_id="c", claim_expires=NOON + 30)
    after, retry = logic.after_failure(first, "no-answer", NOON, POLICY)
    assert retry and after.status is Status.PENDING and after.due_at == NOON + 60
    assert after.claim_id is None and after.outcome == "no-answer"
    second, _ = logic.after_failure(replace(first, attempt=2), "busy", NOON, POLICY)
    assert second.due_at == NOON + 120
    last, retry = logic.after_failure(replace(first, attempt=3), "busy", NOON, POLICY)
    assert not retry and last.status is Status.CANCELLED and last.outcome == "max-attempts"
    closing = replace(first, window_end=NOON + 30)
    expired, retry = logic.after_failure(closing, "no-answer", NOON, POLICY)
    assert not retry and expired.outcome == "expired"


def test_the_last_attempt_is_marked_final_for_the_media_node() -> None:
    dialling = callback(status=Status.CLAIMED, claim_id="c", claim_expires=NOON + 30)
    assert not logic.is_final_attempt(replace(dialling, attempt=1), NOON, POLICY)
    assert logic.is_final_attempt(replace(dialling, attempt=3), NOON, POLICY)  # max attempts
    # A retry would come after the window closes: this attempt is the last one too.
    assert logic.is_final_attempt(replace(dialling, attempt=1, window_end=NOON + 30), NOON,
                                  POLICY)


def test_backoff_is_capped() -> None:
    assert [logic.backoff(n, POLICY) for n in (1, 2, 3, 5, 9)] == [60, 120, 240, 600, 600]


def test_automatic_callbacks_from_the_configured_surge_step() -> None:
    assert not logic.auto_callback_wanted(2, CallbackPolicy(auto_callback_surge_level=3))
    assert logic.auto_callback_wanted(3, CallbackPolicy(auto_callback_surge_level=3))
    assert not logic.auto_callback_wanted(4, CallbackPolicy(auto_callback_surge_level=None))


def test_the_same_caller_getting_through_cancels_only_their_pending_callbacks() -> None:
    cb = callback()
    assert logic.cancels(cb, "acme", cb.caller_token)
    assert not logic.cancels(cb, "bank", cb.caller_token)
    assert not logic.cancels(cb, "acme", "ct1_" + "1" * 64)
    assert not logic.cancels(replace(cb, status=Status.DIALLING), "acme", cb.caller_token)


def test_the_figures_interval_is_a_whole_number_of_seconds() -> None:
    assert parse_policy("acme", {"figures_interval_s": 60}).figures_interval_s == 60
    with pytest.raises(PolicyError, match=r"acme\.figures_interval_s: must be a whole number"):
        parse_policy("acme", {"figures_interval_s": 1.5})


def test_policies_from_yaml_and_errors_naming_the_field(tmp_path: object) -> None:
    policy = parse_policy("acme", {"time_zone": "Europe/Berlin", "max_attempts": 5,
                                   "quiet_hours": {"start": "21:00", "end": "08:00"}})
    assert policy.max_attempts == 5 and policy.quiet_hours == QuietHours(time(21), time(8))
    for raw, field in [({"time_zone": "Mars/Base"}, "acme.time_zone"),
                       ({"max_attempts": 0}, "acme.max_attempts"),
                       ({"quiet_hours": {"start": "9pm", "end": "08:00"}},
                        "acme.quiet_hours.start"),
                       ({"retries": 3}, "acme.retries"),
                       ({"auto_callback_surge_level": 7}, "acme.auto_callback_surge_level")]:
        with pytest.raises(PolicyError, match=field.replace(".", r"\.")):
            parse_policy("acme", raw)
    assert load_policies(None)("anyone") == CallbackPolicy()


def test_callback_figures_of_an_interval() -> None:
    start = logic.interval_start(NOON + 7 * 60 + 3.5, 900)
    assert start == NOON  # 15-minute intervals start on the quarter hour
    row = {"tenant": "acme", "site": "site-a", "queue": "billing", "interval_start": start,
           "interval_seconds": 900, "requested": 4, "dialled": 5, "connected": 2,
           "failed": 3, "cancelled": 1, "recovered_abandons": 1, "connect_ms": 300_500}
    open_ = logic.callback_interval(row, NOON + 600)
    assert not open_.final
    assert (open_.requested, open_.dialled, open_.connected, open_.failed, open_.cancelled,
            open_.recovered_abandons) == (4, 5, 2, 3, 1, 1)
    assert open_.success_rate == 0.4 and open_.mean_seconds_to_connect == 150.25
    assert open_.interval_start == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    # Final only after the interval closed and late outcomes had their grace.
    assert not logic.callback_interval(row, NOON + 900).final
    assert logic.callback_interval(row, NOON + 900 + logic.FIGURES_GRACE_S).final
    nothing = logic.callback_interval({**row, "dialled": 0, "connected": 0}, NOON)
    assert nothing.success_rate is None and nothing.mean_seconds_to_connect is None


def test_agent_first_reserves_the_longest_idle_qualified_agent_not_already_reserved() -> None:
    agents = [AgentView("a-1", "acme", frozenset({"billing"}), ready_since=NOON - 10),
              AgentView("a-2", "acme", frozenset({"billing", "cards"}), ready_since=NOON - 99),
              AgentView("a-3", "acme", frozenset({"cards"}), ready_since=NOON - 500),
              AgentView("a-4", "acme", frozenset({"billing"}), ready_since=None),  # busy
              AgentView("b-1", "other", frozenset({"billing"}), ready_since=NOON - 900)]
    billing = frozenset({"billing"})
    assert logic.pick_agent(agents, "acme", billing, reserved=()) == "a-2"
    assert logic.pick_agent(agents, "acme", billing, reserved={"a-2"}) == "a-1"
    assert logic.pick_agent(agents, "acme", billing, reserved={"a-2"}, refused={"a-1"}) is None
    # The queue's skills not known yet (no call of it seen): any ready agent of the tenant.
    assert logic.pick_agent(agents, "acme", None, reserved=()) == "a-3"
    assert logic.agent_first(callback(), CallbackPolicy(agent_first_queues=frozenset({"billing"})))
    assert not logic.agent_first(callback(), POLICY)


def test_only_the_reserved_agents_answer_to_the_current_preview_counts() -> None:
    previewing = callback(status=Status.PREVIEWING, attempt=1, agent_id="a-2", due_at=NOON + 20,
                          claim_id="c", claim_expires=NOON + 50)
    assert logic.preview_answer(previewing, "a-2", 1, "accepted") == "dial"
    assert logic.preview_answer(previewing, "a-2", 1, "rejected") == "release"
    assert logic.preview_answer(previewing, "a-1", 1, "accepted") == "ignore"  # not reserved
    assert logic.preview_answer(previewing, "a-2", 2, "accepted") == "ignore"  # old attempt
    commanded = replace(previewing, status=Status.COMMANDED)
    assert logic.preview_answer(commanded, "a-2", 1, "accepted") == "ignore"  # already dialled
    assert not logic.preview_timed_out(previewing, NOON + 19)
    assert logic.preview_timed_out(previewing, NOON + 20)  # no answer: dial anyway
    # A scheduler that died while previewing: the same attempt is resumed after the claim.
    assert logic.next_attempt(previewing, NOON + 49) is None
    assert logic.next_attempt(previewing, NOON + 50) == 1


def test_agent_first_policy_fields() -> None:
    policy = parse_policy("acme", {"agent_first_queues": ["billing"], "preview_timeout_s": 15})
    assert (policy.agent_first_queues, policy.preview_timeout_s) == (frozenset({"billing"}), 15)
    with pytest.raises(PolicyError, match=r"acme\.agent_first_queues: a list of queue names"):
        parse_policy("acme", {"agent_first_queues": "billing"})
