"""Who owns a callback, on plain data: fences, a returning site's standing, the copies
an adopter dials, and the callers a lost site left waiting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from hotline_events.models import EventModel
from hotline_events.models.calls import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallQueued,
    CallTransferred,
    PositionAnnounced,
)
from hotline_streams.callbacks import logic, ownership
from hotline_streams.callbacks.models import (
    Callback,
    CallbackPolicy,
    Fence,
    QueueCapacity,
    Status,
    WaitingCaller,
)
from hotline_streams.callbacks.ownership import Standing

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
POLICY = CallbackPolicy()


def callback(callback_id: str, owner: str = "site-b", **changes: object) -> Callback:
    cb = Callback(callback_id=callback_id, tenant="acme", queue="billing",
                  call_id=f"call-{callback_id}", caller_token="ct1_" + "0" * 64,
                  caller_number="+4930123456", reason="caller-request", priority=0,
                  original_enqueued_at=NOON - 300, requested_at=NOON - 60,
                  window_start=NOON - 60, window_end=NOON + 3600, owner_site=owner,
                  due_at=NOON - 60)
    return replace(cb, **changes)  # type: ignore[arg-type]


def fence(site: str = "site-b", by: str = "site-a", token: int = 7,
          completed: float | None = NOON + 2) -> Fence:
    return Fence(site=site, adopted_by=by, fencing_token=token, started_at=NOON,
                 completed_at=completed)


def test_a_takeover_is_taken_resumed_or_refused_by_its_token() -> None:
    assert ownership.fence_decision(None, "site-a", 7) == "take"
    assert ownership.fence_decision(fence(token=5), "site-a", 7) == "take"
    # The same command again (a resumed failover, a replay, a crash midway): go on.
    assert ownership.fence_decision(fence(token=7), "site-a", 7) == "resume"
    # Older than what was recorded: a stale owner's command.
    assert ownership.fence_decision(fence(token=7), "site-a", 5) == "refuse"
    # One token is one takeover: the same token for another adopter is not this one's.
    assert ownership.fence_decision(fence(token=7, by="site-c"), "site-a", 7) == "refuse"


def test_a_site_dials_only_once_it_has_reconciled_with_any_takeover_of_it() -> None:
    assert ownership.standing(None, 0) is Standing.CLEAR
    assert ownership.standing(fence(token=7), 7) is Standing.CLEAR  # acknowledged before
    assert ownership.standing(fence(token=7, completed=None), 0) is Standing.FENCED_MOVING
    assert ownership.standing(fence(token=7), 5) is Standing.FENCED_MOVED


def test_only_the_holder_of_the_latest_takeover_goes_on_without_the_other_datacenter() -> None:
    held = fence(site="site-b", by="site-a", token=7)
    assert ownership.may_go_on_alone("site-a", [held], acknowledged=0)
    assert not ownership.may_go_on_alone("site-b", [held], acknowledged=0)
    assert not ownership.may_go_on_alone("site-a", [replace(held, completed_at=None)], 0)
    # site-a was itself taken over later (token 9): its own takeover proves nothing.
    on_a = fence(site="site-a", by="site-b", token=9)
    assert not ownership.may_go_on_alone("site-a", [held, on_a], acknowledged=0)
    assert not ownership.may_go_on_alone("site-a", [held], acknowledged=8)
    assert not ownership.may_go_on_alone("site-a", [], acknowledged=0)


def test_the_adopter_copies_open_unmarked_callbacks_and_resumes_their_attempt() -> None:
    pending = callback("pending")
    commanded = callback("commanded", status=Status.COMMANDED, attempt=1, claim_id="c",
                         claim_owner="sched-b", claim_expires=NOON + 25)
    dialling = callback("dialling", status=Status.DIALLING, attempt=2,
                        claim_expires=NOON + 80, agent_id="agent-b")
    marked = callback("marked", adopted_by="site-a", adoption_token=7)
    done = callback("done", status=Status.CONNECTED)
    ours = callback("ours", owner="site-a")
    moving = ownership.to_move([pending, commanded, dialling, marked, done, ours], "site-b")
    assert [cb.callback_id for cb in moving] == ["pending", "commanded", "dialling"]
    copies = {cb.callback_id: ownership.adopted_copy(cb, "site-a", 7) for cb in moving}
    for copy in copies.values():
        assert (copy.owner_site, copy.adopted_from, copy.adoption_token) == ("site-a", "site-b", 7)
        assert copy.claim_owner is None and copy.agent_id is None
    assert copies["pending"].status is Status.PENDING
    # The failed site's attempt in flight: resumed at once, same attempt, same command.
    assert copies["commanded"].status is Status.COMMANDED
    assert logic.next_attempt(copies["commanded"], NOON) == 1
    assert logic.next_attempt(copies["dialling"], NOON) == 2
    plan = logic.plan(copies.values(), {("acme", "billing"): QueueCapacity(agents_ready=3)},
                      NOON, lambda _t: POLICY)
    assert sorted(cb.callback_id for cb in plan.dial) == ["commanded", "dialling", "pending"]


def test_no_callback_is_dialable_at_both_sites_after_the_failed_one_returns() -> None:
    """The invariant behind 'no second dial': what the adopter copied, the returning
    site closes; what it did not see, the returning site keeps and nobody else has."""
    seen_by_a = [callback(f"cb-{i}") for i in range(4)]
    not_replicated = callback("late")  # stored at site-b just before the loss
    taken = fence(token=7)
    copies = [ownership.adopted_copy(cb, "site-a", 7) for cb in ownership.to_move(seen_by_a,
                                                                                   "site-b")]
    marked = [replace(cb, adopted_by="site-a", adoption_token=7) for cb in seen_by_a]
    returning_view = [*marked, not_replicated]  # site-b's partition read at EACH_QUORUM
    assert ownership.standing(taken, acknowledged=0) is Standing.FENCED_MOVED
    closed = ownership.to_close_on_return(returning_view, taken)
    kept = [cb for cb in returning_view if cb not in closed]
    dialable_a = {cb.callback_id for cb in copies}
    dialable_b = {cb.callback_id for cb in kept}
    assert dialable_a & dialable_b == set()
    assert dialable_a | dialable_b == {cb.callback_id for cb in [*seen_by_a, not_replicated]}
    archived = ownership.closed_as_adopted(closed[0])
    assert archived.status is Status.CANCELLED and archived.outcome == "adopted-by-site-a"
    # Marks of a later takeover are not this fence's to close.
    assert ownership.to_close_on_return([replace(marked[0], adoption_token=9)], taken) == []


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def queued(call: str, enqueued: float, **extra: object) -> CallQueued:
    return CallQueued(call_id=call, tenant="acme", queue="billing", enqueued_at=at(enqueued),
                      **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize("end", [
    CallAnswered(call_id="c1", tenant="acme", queue="billing", agent_id="a1", wait_seconds=3),
    CallAbandoned(call_id="c1", tenant="acme", stage="queue", queue="billing", wait_seconds=3),
    CallTransferred(call_id="c1", tenant="acme", from_agent_id="a1", kind="blind"),
    CallCompleted(call_id="c1", tenant="acme", talk_seconds=1, hold_seconds=0,
                  wrap_up_seconds=0, disposition="resolved", ended_by="caller"),
])
def test_a_caller_waits_from_queueing_until_answered_abandoned_or_transferred(
        end: EventModel) -> None:
    waiting = ownership.waiting_after(None, queued("c1", NOON - 40, caller_tier="vip"))
    assert waiting == WaitingCaller(call_id="c1", tenant="acme", queue="billing",
                                    enqueued_at=NOON - 40, tier="vip")
    still = ownership.waiting_after(waiting, PositionAnnounced(
        call_id="c1", tenant="acme", queue="billing", position=2, estimated_wait_seconds=30))
    assert still == waiting
    assert ownership.waiting_after(still, end) is None


def test_a_requeued_caller_keeps_the_original_place_and_a_callbacks_own_call_is_no_caller() -> None:
    first = ownership.waiting_after(None, queued("c1", NOON - 40))
    again = ownership.waiting_after(first, queued("c1", NOON - 5,
                                                  original_enqueued_at=at(NOON - 40)))
    assert again is not None and again.enqueued_at == NOON - 40
    assert ownership.waiting_after(None, queued("c2", NOON, callback_id="cb-9")) is None


def test_callers_waiting_at_the_lost_site_get_one_callback_each_in_their_place() -> None:
    waiting = [WaitingCaller("c1", "acme", "billing", NOON - 50, "vip"),
               WaitingCaller("c2", "acme", "billing", NOON - 90),
               WaitingCaller("c3", "acme", "billing", NOON - 30),  # number never came
               WaitingCaller("c4", "acme", "billing", NOON + 20)]  # queued after the loss
    numbers = {"c1": ("+4930111", "ct1_" + "1" * 64), "c2": ("+4930222", "ct1_" + "2" * 64),
               "c4": ("+4930444", "ct1_" + "4" * 64)}

    def made() -> tuple[list[Callback], list[WaitingCaller]]:
        return ownership.stranded_callbacks(
            waiting, numbers, peer="site-b", site="site-a", token=7, lost_at=NOON,
            now=NOON + 5, policy_of=lambda _t: POLICY, priority_of=logic.priority_of)

    callbacks, unknown = made()
    assert [cb.call_id for cb in callbacks] == ["c2", "c1"]  # in their original order
    assert [c.call_id for c in unknown] == ["c3"]
    c2, c1 = callbacks
    assert (c2.original_enqueued_at, c2.caller_number, c2.reason) == (NOON - 90, "+4930222",
                                                                      "site-lost")
    assert (c2.owner_site, c2.adopted_from, c2.adoption_token) == ("site-a", "site-b", 7)
    assert c1.priority == logic.priority_of("vip") > c2.priority
    assert c2.window_end == NOON + 5 + POLICY.default_window_s
    # Replayed adoption: the same ids, so the store's insert-if-absent makes it one each.
    assert [cb.callback_id for cb in made()[0]] == [cb.callback_id for cb in callbacks]
    assert c1.callback_id == ownership.stranded_callback_id("site-b", "c1")
    assert c1.callback_id != ownership.stranded_callback_id("site-a", "c1")
