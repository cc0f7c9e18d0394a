"""Plain data for an agent's screen pop."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IvrChoice:
    menu_id: str
    level: int
    option: str
    target: str


@dataclass(frozen=True)
class PastContact:
    call_id: str
    at: float  # when it completed
    queue: str | None
    agent_id: str | None
    disposition: str


@dataclass(frozen=True)
class CallContext:
    """One call as the call events told it (caller only as a token)."""

    call_id: str
    tenant: str
    caller_token: str | None = None
    dialled_number: str | None = None
    tier: str = "standard"
    queue: str | None = None
    ivr_path: tuple[IvrChoice, ...] = ()
    seen: tuple[str, ...] = ()  # event ids folded (replays change nothing)


@dataclass(frozen=True)
class CallerHistory:
    caller_token: str
    contacts: tuple[PastContact, ...] = ()  # oldest first, the last few
