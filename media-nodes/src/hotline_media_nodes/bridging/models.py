"""Plain data of a caller's way to an agent: the bridge state, its inputs and effects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hotline_events.models import EventModel
from hotline_media_nodes.ivr.models import Survey

Phase = Literal["queued", "ringing", "talking", "survey", "ended"]


@dataclass(frozen=True)
class Bridge:
    """One queued caller and (at most) one agent leg. Times are monotonic seconds."""

    call_id: str
    tenant: str
    queue: str
    enqueued_at: float
    survey: Survey | None = None
    phase: Phase = "queued"
    decision_id: str | None = None
    agent_id: str | None = None
    dialled_at: float | None = None
    ringing_reported: bool = False
    answered_at: float | None = None
    agent_left_at: float | None = None
    survey_deadline: float | None = None
    seen_decisions: frozenset[str] = frozenset()


# --- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Routing picked ``agent_id`` for this call; ring ``agent_uri``."""

    decision_id: str
    queue: str
    agent_id: str
    agent_uri: str


@dataclass(frozen=True)
class AgentRings:
    """The agent's phone answered the INVITE with 180/183."""


@dataclass(frozen=True)
class AgentAnswers:
    """The agent picked up (200 OK, ACKed)."""


@dataclass(frozen=True)
class AgentGone:
    """The agent leg ended: rejected/unreachable before an answer, or a BYE after it."""

    status: int
    reason: str


@dataclass(frozen=True)
class RingTimeout:
    """The agent did not answer within the ring timeout."""


@dataclass(frozen=True)
class CallerGone:
    """The caller hung up (BYE, or CANCEL before the IVR answered)."""


@dataclass(frozen=True)
class SurveyKey:
    key: str


@dataclass(frozen=True)
class SurveyTimeout:
    """No answer to the survey question in time."""


BridgeInput = (Decision | AgentRings | AgentAnswers | AgentGone | RingTimeout | CallerGone
               | SurveyKey | SurveyTimeout)

# --- effects (the controller carries them out in order) -------------------------------


@dataclass(frozen=True)
class Publish:
    event: EventModel


@dataclass(frozen=True)
class DialAgent:
    uri: str


@dataclass(frozen=True)
class HangUpAgent:
    why: str


@dataclass(frozen=True)
class HangUpCaller:
    why: str


@dataclass(frozen=True)
class Connect:
    """Stop the hold prompt and connect caller and agent audio both ways."""


@dataclass(frozen=True)
class PlayToCaller:
    """Play a prompt to the caller (the survey question, its thanks), then maybe hang up."""

    prompt: str
    hang_up_after: bool = False


@dataclass(frozen=True)
class Ignored:
    """The input changes nothing (e.g. a stale or duplicate decision); ``why`` is logged."""

    why: str


Effect = Publish | DialAgent | HangUpAgent | HangUpCaller | Connect | PlayToCaller | Ignored
