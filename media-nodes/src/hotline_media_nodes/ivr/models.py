"""Plain models of a tenant's IVR flow (loaded from YAML by ``ivr.loader``).

A *target* is where a key press (or an entry point) leads, written ``kind:name``:
``menu:billing``, ``queue:billing``, ``service:balance`` or ``hangup``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TargetKind = Literal["menu", "queue", "service", "hangup"]
HANGUP = "hangup"
DIGITS = frozenset("0123456789*#")
AGENT_KEY = "0"  # "0 = agent" from any prompt (barge-in)


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    name: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "hangup" else f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Menu:
    id: str
    prompt: str
    options: dict[str, Target]
    timeout_seconds: float = 5.0
    max_retries: int = 2


@dataclass(frozen=True)
class CallbackOffer:
    """Offer a callback ("press 1") when the caller's estimated wait exceeds a threshold."""

    offer_above_seconds: float
    prompt: str  # the offer
    confirm: str  # said after the caller accepted, before the polite hang-up
    promised_within_seconds: float = 3600.0
    key: str = "1"


@dataclass(frozen=True)
class QueueTarget:
    id: str
    skills: tuple[str, ...] = ()
    priority: int = 0
    language: str | None = None
    hold_prompt: str | None = None
    announce_every_seconds: float | None = None  # position + estimated wait; None = never
    callback: CallbackOffer | None = None


@dataclass(frozen=True)
class LookupSpec:
    """Ask for an id by DTMF, look it up over HTTP, say the answer (or the fallback).

    ``url`` has ``{digits}`` where the keyed-in id goes; the JSON answer's ``field``
    picks the prompt from ``answers`` (e.g. ``shipped: order_shipped``).
    """

    url: str
    field: str
    answers: dict[str, str]  # field value → prompt id
    fallback: str  # prompt said when the lookup fails, times out or answers unknown
    min_digits: int = 1
    max_digits: int = 16
    timeout_seconds: float = 2.0
    key_timeout_seconds: float = 5.0


@dataclass(frozen=True)
class SelfService:
    """A self-service step: play its prompt (the answer), then go to ``then``.

    With ``lookup``, the prompt asks for an id instead, and the answer comes from HTTP.
    """

    id: str
    prompt: str
    then: Target = Target("hangup")
    lookup: LookupSpec | None = None


@dataclass(frozen=True)
class Survey:
    """The post-call question the caller hears when the agent hangs up (keys 1-5)."""

    question_id: str
    prompt: str
    thanks: str
    timeout_seconds: float = 8.0


@dataclass(frozen=True)
class EntryPoint:
    number: str
    target: Target
    caller_tier: Literal["standard", "vip"] = "standard"


@dataclass(frozen=True)
class Flow:
    tenant: str
    voice: str
    prompts: dict[str, str]  # prompt id → text
    menus: dict[str, Menu]
    queues: dict[str, QueueTarget]
    services: dict[str, SelfService]
    entry_points: tuple[EntryPoint, ...]
    agent_target: Target  # where "0" leads from any prompt
    no_input_target: Target = field(default=Target("hangup"))  # after max_retries timeouts
    survey: Survey | None = None

    def entry_for(self, number: str) -> EntryPoint | None:
        for entry in self.entry_points:
            if entry.number == number:
                return entry
        return None
