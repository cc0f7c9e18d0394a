"""The pool's pure decisions: worker lines, lost calls, restart backoff, the edge's set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline_events.models.calls import CallAbandoned, CallCompleted, CallOffered, CallQueued
from hotline_media_nodes.pool import logic
from hotline_media_nodes.pool.models import (
    CallBegan,
    CallEnded,
    CallQueuedIn,
    Draining,
    OpenCall,
    Ready,
    Slot,
)


def test_a_worker_s_call_events_round_trip_through_its_stdout_lines() -> None:
    offered = CallOffered(call_id="c-1", tenant="acme", site="site-a", media_node="mn.w0",
                          dialled_number="800100", caller_withheld=True)
    queued = CallQueued(call_id="c-1", tenant="acme", queue="billing", required_skills=["b"],
                        priority=1, caller_tier="standard",
                        enqueued_at=datetime(2026, 1, 1, tzinfo=UTC))
    ended = CallAbandoned(call_id="c-1", tenant="acme", stage="queue", queue="billing",
                          wait_seconds=3.0)
    lines = [logic.call_line(e) for e in (offered, queued, ended)]
    assert lines == ["call+ c-1 acme", "queue c-1 billing", "call- c-1"]
    assert [logic.parse_line(line) for line in lines if line] == [
        CallBegan("c-1", "acme"), CallQueuedIn("c-1", "billing"), CallEnded("c-1")]


@pytest.mark.parametrize(("line", "news"), [
    ("ready sip=127.0.0.1:5071\n", Ready("127.0.0.1:5071")),
    ("draining\n", Draining()),
    ("health http://127.0.0.1:1/\n", None),
    ("call+ only-one-field\n", None),
    ("ready sip\n", None),
    ("", None),
])
def test_unknown_or_malformed_lines_are_ignored(line: str, news: object) -> None:
    assert logic.parse_line(line) == news


def test_the_edge_set_holds_only_ready_workers_in_slot_order() -> None:
    slots = [Slot(2, "n.w2", 0, None, "ready", "127.0.0.1:5002"),
             Slot(0, "n.w0", 0, None, "ready", "127.0.0.1:5000"),
             Slot(1, "n.w1", 0, None, "draining", "127.0.0.1:5001"),
             Slot(3, "n.w3", 0, None, "starting", None)]
    assert [(d.name, d.address, d.max_load) for d in logic.destination_set(slots)] == [
        ("n.w0", "127.0.0.1:5000", 2), ("n.w2", "127.0.0.1:5002", 2)]  # 2 callers each


def test_a_dead_worker_s_open_calls_are_reported_lost_not_abandoned() -> None:
    slot = Slot(0, "n.w0", 0, None)
    for news in (Ready("127.0.0.1:5000"), CallBegan("c-2", "acme"), CallBegan("c-1", "acme"),
                 CallQueuedIn("c-1", "billing"), CallBegan("c-3", "acme"), CallEnded("c-3")):
        logic.apply_news(slot, news)
    slot.started_at = 0.0
    lost = logic.on_death(slot, now=100.0)
    assert slot.state == "dead" and slot.address is None and not slot.calls
    events = logic.lost_call_events(lost)
    assert all(isinstance(e, CallCompleted) for e in events)
    assert [(e.call_id, e.queue, e.disposition, e.ended_by) for e in events] == [
        ("c-1", "billing", "media-node-lost", "system"),
        ("c-2", None, "media-node-lost", "system")]
    assert slot.start_at == 100.0  # it ran a while: restart at once


def test_a_worker_that_keeps_dying_at_start_backs_off_up_to_30_s() -> None:
    slot = Slot(0, "n.w0", 0, None)
    delays = []
    now = 0.0
    for _ in range(8):
        slot.started_at = now
        logic.on_death(slot, now + 1.0)
        delays.append(slot.start_at - (now + 1.0))
        now = slot.start_at
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_the_node_heartbeat_sums_its_workers() -> None:
    slots = [Slot(0, "n.w0", 0, None, "ready", "a:1", calls={"c": OpenCall("c", "t")}),
             Slot(1, "n.w1", 0, None, "draining", "a:2",
                  calls={"d": OpenCall("d", "t"), "e": OpenCall("e", "t")}),
             Slot(2, "n.w2", 0, None, "dead")]
    beat = logic.node_heartbeat("n", "site-a", slots, draining=False)
    assert (beat.capacity, beat.active_calls, beat.workers, beat.draining) == (4, 3, 2, False)
    assert logic.node_heartbeat("n", "site-a", slots, draining=True).capacity == 0
