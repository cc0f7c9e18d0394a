"""A call's life: offered, IVR, queue, agent, completion, recording, survey.

Every type here carries ``call_id`` (the key of ``cc.call.events``, so one call's
events stay in order) and ``tenant``. Callers appear only as ``caller_token``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from hotline_events.models._base import (
    AgentId,
    CallerTier,
    CallerToken,
    CallId,
    Count,
    EventModel,
    Id,
    Language,
    MediaNode,
    Queue,
    Seconds,
    Site,
    Skill,
    Tenant,
    Timestamp,
)

Level = Annotated[int, msgspec.Meta(ge=1, le=9, description="Menu depth, 1 = main menu.")]


class CallEvent(EventModel, frozen=True, kw_only=True):
    SUBJECT: ClassVar[str] = "call_id"

    call_id: CallId
    tenant: Tenant


class CallOffered(CallEvent, frozen=True, kw_only=True):
    """A call reached the platform (INVITE accepted by a media node)."""

    TYPE: ClassVar[str] = "hotline.call.offered.v1"
    site: Site
    media_node: MediaNode
    dialled_number: Annotated[str, msgspec.Meta(
        pattern=r"^\+?[0-9]{3,20}$",
        description="The hotline number the caller dialled (a service number, not personal).")]
    caller_token: CallerToken | None = None
    caller_withheld: bool = False


class CallAnsweredByIvr(CallEvent, frozen=True, kw_only=True):
    """The IVR answered the call."""

    TYPE: ClassVar[str] = "hotline.call.answered-by-ivr.v1"
    media_node: MediaNode
    ring_seconds: Seconds


class IvrStep(CallEvent, frozen=True, kw_only=True):
    """The caller entered an IVR menu (a prompt was played)."""

    TYPE: ClassVar[str] = "hotline.call.ivr-step.v1"
    menu_id: Id
    level: Level
    prompt_id: Id
    elapsed_seconds: Annotated[float, msgspec.Meta(
        ge=0, description="Seconds since the IVR answered (the 30 s rule is measured on it).")]


class IvrSelection(CallEvent, frozen=True, kw_only=True):
    """The caller chose an option in an IVR menu."""

    TYPE: ClassVar[str] = "hotline.call.ivr-selection.v1"
    menu_id: Id
    level: Level
    option: Annotated[str, msgspec.Meta(
        pattern=r"^[0-9*#]{1,4}$", description="The DTMF keys of the option.")]
    target: Annotated[str, msgspec.Meta(
        min_length=1, max_length=128,
        description="Where the option leads, e.g. `menu:billing`, `queue:billing`, "
                    "`self-service:balance`.")]
    barge_in: Annotated[bool, msgspec.Meta(
        description="The caller asked for an agent before the prompt ended.")] = False
    elapsed_seconds: Seconds


class SelfServiceCompleted(CallEvent, frozen=True, kw_only=True):
    """A self-service flow (balance, charges, order status …) ended."""

    TYPE: ClassVar[str] = "hotline.call.self-service-completed.v1"
    service: Id
    outcome: Literal["resolved", "transferred-to-agent", "failed"]
    duration_seconds: Seconds


class CallQueued(CallEvent, frozen=True, kw_only=True):
    """The call entered a skill queue (this is what service level counts as offered)."""

    TYPE: ClassVar[str] = "hotline.call.queued.v1"
    queue: Queue
    required_skills: tuple[Skill, ...] = ()
    language: Language | None = None
    priority: Annotated[int, msgspec.Meta(
        ge=0, le=9, description="0 = normal; higher is served first within a queue.")] = 0
    caller_tier: CallerTier = "standard"
    enqueued_at: Timestamp
    original_enqueued_at: Annotated[Timestamp | None, msgspec.Meta(
        description="For a callback re-queued: the original call's enqueue time, so it "
                    "keeps its place in line (no priority boost).")] = None
    callback_id: Id | None = None
    reserved_agent_id: Annotated[AgentId | None, msgspec.Meta(
        description="The agent who accepted this callback in preview: routing offers the "
                    "call to them.")] = None


class PositionAnnounced(CallEvent, frozen=True, kw_only=True):
    """The caller was told their position and estimated wait."""

    TYPE: ClassVar[str] = "hotline.call.position-announced.v1"
    queue: Queue
    position: Annotated[int, msgspec.Meta(ge=1)]
    estimated_wait_seconds: Seconds


class OfferedToAgent(CallEvent, frozen=True, kw_only=True):
    """Routing picked an agent and the media node is about to ring them."""

    TYPE: ClassVar[str] = "hotline.call.offered-to-agent.v1"
    queue: Queue
    agent_id: AgentId
    decision_id: Id


class AgentRinging(CallEvent, frozen=True, kw_only=True):
    """The agent's phone is ringing."""

    TYPE: ClassVar[str] = "hotline.call.agent-ringing.v1"
    queue: Queue
    agent_id: AgentId


class CallAnswered(CallEvent, frozen=True, kw_only=True):
    """An agent answered; `wait_seconds` is the queue wait that ASA averages."""

    TYPE: ClassVar[str] = "hotline.call.answered.v1"
    queue: Queue
    agent_id: AgentId
    wait_seconds: Annotated[float, msgspec.Meta(
        ge=0, description="From entering the queue (the original enqueue for a "
                          "callback) to the agent answering.")]


class AgentNoAnswer(CallEvent, frozen=True, kw_only=True):
    """Redirect on no answer (RONA): the agent did not pick up; the call goes back."""

    TYPE: ClassVar[str] = "hotline.call.agent-no-answer.v1"
    queue: Queue
    agent_id: AgentId
    ring_seconds: Seconds


class CallHeld(CallEvent, frozen=True, kw_only=True):
    """The agent put the caller on hold."""

    TYPE: ClassVar[str] = "hotline.call.held.v1"
    agent_id: AgentId


class CallResumed(CallEvent, frozen=True, kw_only=True):
    """The agent took the caller off hold."""

    TYPE: ClassVar[str] = "hotline.call.resumed.v1"
    agent_id: AgentId
    hold_seconds: Seconds


class CallTransferred(CallEvent, frozen=True, kw_only=True):
    """The agent transferred the call to a queue or another agent."""

    TYPE: ClassVar[str] = "hotline.call.transferred.v1"
    from_agent_id: AgentId
    to_queue: Queue | None = None
    to_agent_id: AgentId | None = None
    kind: Literal["blind", "attended"]


class CallAbandoned(CallEvent, frozen=True, kw_only=True):
    """The caller hung up before reaching an agent. A callback request is not this."""

    TYPE: ClassVar[str] = "hotline.call.abandoned.v1"
    stage: Literal["ivr", "queue", "ringing"]
    queue: Queue | None = None
    wait_seconds: Annotated[float, msgspec.Meta(
        ge=0, description="Time in queue (0 in the IVR); short abandons are judged on it.")]


class CallCompleted(CallEvent, frozen=True, kw_only=True):
    """The call ended after wrap-up; AHT = talk + hold + wrap-up."""

    TYPE: ClassVar[str] = "hotline.call.completed.v1"
    queue: Queue | None = None
    agent_id: AgentId | None = None
    talk_seconds: Seconds
    hold_seconds: Seconds
    wrap_up_seconds: Seconds
    disposition: Annotated[str, msgspec.Meta(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="The agent's outcome code, e.g. `resolved`, `follow-up`.")]
    ended_by: Literal["caller", "agent", "system"]


class RecordingStored(CallEvent, frozen=True, kw_only=True):
    """A call recording was written (encrypted) to storage."""

    TYPE: ClassVar[str] = "hotline.call.recording-stored.v1"
    recording_id: Id
    agent_id: AgentId | None = None
    duration_seconds: Seconds
    uri: Annotated[str, msgspec.Meta(
        min_length=1, max_length=1024,
        description="Where the encrypted recording is; no caller data in the path.")]
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    size_bytes: Count


class SurveyAnswered(CallEvent, frozen=True, kw_only=True):
    """The caller answered a post-call survey question."""

    TYPE: ClassVar[str] = "hotline.call.survey-answered.v1"
    question_id: Id
    score: Annotated[int, msgspec.Meta(ge=1, le=5, description="1 (worst) to 5 (best).")]
    agent_id: AgentId | None = None


class CallbackOffered(CallEvent, frozen=True, kw_only=True):
    """The IVR offered the waiting caller a callback (a call event: no callback yet)."""

    TYPE: ClassVar[str] = "hotline.call.callback-offered.v1"
    queue: Queue
    estimated_wait_seconds: Seconds
    promised_within_seconds: Seconds


TYPES: tuple[type[EventModel], ...] = (
    CallOffered, CallAnsweredByIvr, IvrStep, IvrSelection, SelfServiceCompleted, CallQueued,
    PositionAnnounced, OfferedToAgent, AgentRinging, CallAnswered, AgentNoAnswer, CallHeld,
    CallResumed, CallTransferred, CallAbandoned, CallCompleted, RecordingStored, SurveyAnswered,
    CallbackOffered,
)
