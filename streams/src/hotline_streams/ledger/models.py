"""Plain data for the call ledger: what the platform knows about one call's queue visits."""

from __future__ import annotations

from dataclasses import dataclass

from hotline_streams.service_levels.models import Outcome


@dataclass(frozen=True)
class QueueVisit:
    """One contact: the call's stay in one queue (a transfer to another queue is another)."""

    queue: str
    enqueued_at: float  # epoch seconds; a callback keeps its original enqueue time
    outcome: Outcome | None = None  # None while waiting
    wait_s: float = 0.0
    handle_s: float = 0.0  # talk + hold + wrap-up once the call completed
    agent_id: str | None = None


@dataclass(frozen=True)
class CallEntry:
    call_id: str
    tenant: str
    visits: tuple[QueueVisit, ...] = ()  # in the order the call entered queues
    completed: bool = False

    def visit(self, queue: str | None) -> QueueVisit | None:
        """The visit of ``queue``, or with ``None`` the latest one."""
        if queue is None:
            return self.visits[-1] if self.visits else None
        return next((v for v in self.visits if v.queue == queue), None)
