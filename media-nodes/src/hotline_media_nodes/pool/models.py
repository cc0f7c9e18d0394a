"""Plain data of the pool: its workers and the calls they hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

SlotState = Literal["starting", "ready", "draining", "dead"]


@dataclass
class OpenCall:
    call_id: str
    tenant: str
    queue: str | None = None


@dataclass
class Slot:
    """One worker position in the pool; its process is replaced when it dies."""

    index: int
    name: str  # media_node id of the worker, e.g. "mn-a-0.w3"
    sip_port: int  # 0: kernel-chosen (then the address changes on restart)
    health_port: int | None
    state: SlotState = "dead"
    address: str | None = None  # host:port once ready
    generation: int = 0  # bumps on every start; stale lines of an old process are ignored
    calls: dict[str, OpenCall] = field(default_factory=dict)
    quick_deaths: int = 0  # consecutive deaths soon after start (backoff)
    started_at: float = 0.0
    start_at: float = 0.0  # when to start it again once dead
    restarts: int = 0


# --- what a worker says on stdout ----------------------------------------------------


@dataclass(frozen=True)
class Ready:
    address: str


@dataclass(frozen=True)
class Draining:
    pass


@dataclass(frozen=True)
class CallBegan:
    call_id: str
    tenant: str


@dataclass(frozen=True)
class CallQueuedIn:
    call_id: str
    queue: str


@dataclass(frozen=True)
class CallEnded:
    call_id: str


WorkerNews = Ready | Draining | CallBegan | CallQueuedIn | CallEnded
