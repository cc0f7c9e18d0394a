"""Pure decisions of the event buffer: what to keep when full, when the link is degraded."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class EventBuffer(Generic[T]):
    """FIFO of events waiting for Kafka, at most ``bound`` long.

    Policy when full: drop the *oldest* waiting event. The newest events carry a call's
    latest state (its end, the latest heartbeat) and a consumer can still close a call
    it sees end; a call whose first events were dropped shows up as a gap, counted in
    ``dropped`` (exported as a metric and logged), never silently.
    """

    def __init__(self, bound: int) -> None:
        if bound < 1:
            raise ValueError(f"event buffer bound must be at least 1, not {bound}")
        self.bound = bound
        self._items: deque[T] = deque()
        self.dropped = 0

    def push(self, item: T) -> T | None:
        """Append; returns the dropped oldest item when the buffer was full."""
        dropped = None
        if len(self._items) >= self.bound:
            dropped = self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        return dropped

    def pop(self) -> T | None:
        return self._items.popleft() if self._items else None

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class LinkStatus:
    degraded: bool
    reason: str  # "" when healthy; otherwise what an SRE needs to know


def link_status(*, now: float, oldest_unacked_at: float | None, waiting: int,
                in_flight: int, brokers_down: bool, dropped: int,
                stall_seconds: float) -> LinkStatus:
    """Degraded when Kafka is known down or an event has waited ``stall_seconds`` unacked."""
    stalled = oldest_unacked_at is not None and now - oldest_unacked_at >= stall_seconds
    if not (brokers_down or stalled):
        return LinkStatus(False, "")
    why = "Kafka brokers unreachable" if brokers_down else (
        f"Kafka has not acknowledged an event for {now - (oldest_unacked_at or now):.0f} s")
    buffered = waiting + in_flight
    lost = f", {dropped} oldest dropped since start (buffer full)" if dropped else ""
    return LinkStatus(True, f"{why}; {buffered} event(s) buffered{lost}; calls go on, "
                            "events drain in order when Kafka is back")
