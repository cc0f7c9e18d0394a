"""The event buffer's bound and oldest-first drop policy, and when the link is degraded."""

from __future__ import annotations

import pytest

from hotline_media_nodes.publishing import EventBuffer, link_status


def test_the_buffer_keeps_order_and_drops_the_oldest_when_full() -> None:
    buf: EventBuffer[int] = EventBuffer(3)
    assert [buf.push(i) for i in range(5)] == [None, None, None, 0, 1]
    assert buf.dropped == 2 and len(buf) == 3
    assert [buf.pop() for _ in range(4)] == [2, 3, 4, None]


def test_a_buffer_needs_room_for_one_event() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        EventBuffer(0)


def test_healthy_while_events_are_acknowledged_in_time() -> None:
    s = link_status(now=10.0, oldest_unacked_at=8.0, waiting=0, in_flight=3,
                    brokers_down=False, dropped=0, stall_seconds=5.0)
    assert not s.degraded and s.reason == ""


def test_degraded_when_an_event_waits_too_long_or_the_brokers_are_down() -> None:
    stalled = link_status(now=20.0, oldest_unacked_at=10.0, waiting=40, in_flight=2,
                          brokers_down=False, dropped=7, stall_seconds=5.0)
    assert stalled.degraded
    assert "not acknowledged an event for 10 s" in stalled.reason
    assert "42 event(s) buffered" in stalled.reason and "7 oldest dropped" in stalled.reason
    down = link_status(now=0.0, oldest_unacked_at=None, waiting=0, in_flight=0,
                       brokers_down=True, dropped=0, stall_seconds=5.0)
    assert down.degraded and down.reason.startswith("Kafka brokers unreachable")
