"""Plain data of a waiting caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from hotline_events.models import EventModel
from hotline_media_nodes.ivr.models import QueueTarget

Speech = Literal["announcement", "offer", "confirm"]


@dataclass(frozen=True)
class Waiting:
    call_id: str
    tenant: str
    queue: QueueTarget
    caller_token: str | None  # None: number withheld, so no callback can be offered
    enqueued_wall: datetime  # the callback keeps this place in line
    next_announcement_at: float | None  # monotonic; None = this queue never announces
    position: int | None = None
    estimated_wait_seconds: float | None = None
    speaking: Speech | None = None
    offered: bool = False
    offer_open_until: float | None = None
    done: bool = False  # the caller took the callback


@dataclass(frozen=True)
class Speak:
    prompts: tuple[str, ...]
    kind: Speech


@dataclass(frozen=True)
class Publish:
    event: EventModel


@dataclass(frozen=True)
class ResumeHold:
    pass


@dataclass(frozen=True)
class EndCall:
    """Hang up politely: the confirmation has been said."""


WaitEffect = Speak | Publish | ResumeHold | EndCall
