"""Callbacks: requested → scheduled → dialling → connected | failed | cancelled.

Keyed by ``callback_id`` so one callback's steps stay in order. Each carries the
originating ``call_id`` and ``tenant``. The number to dial travels only in the
``DialCallback`` command, on a `personal` topic.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from hotline_events.models._base import (
    AgentId,
    CallerToken,
    CallId,
    EventModel,
    Id,
    MediaNode,
    PhoneNumber,
    Queue,
    Seconds,
    Site,
    Tenant,
    Timestamp,
)

Attempt = Annotated[int, msgspec.Meta(ge=1, le=20, description="1 for the first dial.")]


class CallbackEvent(EventModel, frozen=True, kw_only=True):
    SUBJECT: ClassVar[str] = "callback_id"

    callback_id: Id
    call_id: Annotated[CallId, msgspec.Meta(description="The call the callback came from.")]
    tenant: Tenant


class CallbackRequested(CallbackEvent, frozen=True, kw_only=True):
    """A callback was requested (by the caller, automatically after an abandon, or for a
    caller who was waiting at a site when it was lost: ``site-lost``, by the survivor)."""

    TYPE: ClassVar[str] = "hotline.callback.requested.v1"
    queue: Queue
    reason: Literal["caller-request", "abandoned-auto", "overdue-ticket", "site-lost"]
    caller_token: CallerToken
    original_enqueued_at: Annotated[Timestamp, msgspec.Meta(
        description="When the caller first entered the queue: the callback keeps this place.")]
    priority: Annotated[int, msgspec.Meta(ge=0, le=9)] = 0
    window_start: Annotated[Timestamp | None, msgspec.Meta(
        description="Scheduled callbacks: not before this time (null: as soon as possible).")
    ] = None
    window_end: Annotated[Timestamp | None, msgspec.Meta(
        description="Not after this time; the callback expires (null: the tenant's default "
                    "window from the request).")] = None


class CallbackScheduled(CallbackEvent, frozen=True, kw_only=True):
    """The callback got a due time (first attempt or a retry)."""

    TYPE: ClassVar[str] = "hotline.callback.scheduled.v1"
    queue: Queue
    due_at: Timestamp
    attempt: Attempt


class CallbackDialling(CallbackEvent, frozen=True, kw_only=True):
    """A media node is dialling the customer back."""

    TYPE: ClassVar[str] = "hotline.callback.dialling.v1"
    site: Site
    media_node: MediaNode
    outbound_call_id: CallId
    attempt: Attempt


class CallbackConnected(CallbackEvent, frozen=True, kw_only=True):
    """The customer picked up; the outbound call is re-queued with the original time."""

    TYPE: ClassVar[str] = "hotline.callback.connected.v1"
    outbound_call_id: CallId
    attempt: Attempt
    ring_seconds: Seconds


class CallbackFailed(CallbackEvent, frozen=True, kw_only=True):
    """A dial attempt failed; `will_retry` says whether another is scheduled."""

    TYPE: ClassVar[str] = "hotline.callback.failed.v1"
    attempt: Attempt
    reason: Literal["no-answer", "busy", "rejected", "invalid-number", "error"]
    will_retry: bool


class CallbackCancelled(CallbackEvent, frozen=True, kw_only=True):
    """The callback will not be dialled (any more)."""

    TYPE: ClassVar[str] = "hotline.callback.cancelled.v1"
    reason: Literal["caller-called-again", "cancelled-by-caller", "expired", "max-attempts"]


class CallbackRefused(CallbackEvent, frozen=True, kw_only=True):
    """The destination policy refused the callback: it is never dialled (toll-fraud
    guard; emergency, short, premium-rate and other surcharged numbers, numbers outside
    the tenant's countries or prefixes, rate limits). Terminal, like cancelled."""

    TYPE: ClassVar[str] = "hotline.callback.refused.v1"
    queue: Queue
    reason: Annotated[Literal[
        "emergency-number", "short-code", "invalid-number", "premium-rate",
        "surcharged-number", "country-not-allowed", "prefix-not-allowed",
        "number-rate-limit", "tenant-rate-limit"], msgspec.Meta(
            description="Why: the number's kind, the tenant's allow-lists, or a limit.")]
    detail: Annotated[str, msgspec.Meta(
        max_length=200, description="The reason in words for the auditor "
        "(never the number itself).")]
    attempt: Annotated[int, msgspec.Meta(
        ge=0, le=20, description="0: refused on request; n: refused before dial attempt n "
        "(the policy changed since the callback was stored).")] = 0


class CallbackPreviewOffered(CallbackEvent, frozen=True, kw_only=True):
    """Agent-first preview: the callback is offered to this agent (reserved for it) before
    the customer is dialled; the agent's desktop shows it and answers accept or reject."""

    TYPE: ClassVar[str] = "hotline.callback.preview-offered.v1"
    queue: Queue
    agent_id: AgentId
    attempt: Attempt
    dial_by: Annotated[Timestamp, msgspec.Meta(
        description="Without an answer the customer is dialled at this time anyway.")]


class CallbackPreviewAnswered(CallbackEvent, frozen=True, kw_only=True):
    """The agent's answer to a preview (from the desktop, through the callbacks API)."""

    TYPE: ClassVar[str] = "hotline.callback.preview-answered.v1"
    agent_id: AgentId
    attempt: Attempt
    decision: Literal["accepted", "rejected"]


class DialCallback(CallbackEvent, frozen=True, kw_only=True):
    """Command to a media node: dial this number. Personal: the number is in clear."""

    TYPE: ClassVar[str] = "hotline.callback.dial.v1"
    queue: Queue
    site: Annotated[Site, msgspec.Meta(description="The site whose media nodes dial.")]
    caller_number: PhoneNumber
    caller_token: CallerToken
    attempt: Attempt
    claim_id: Annotated[Id, msgspec.Meta(
        description="The Cassandra LWT claim that makes this dial the only one.")]
    original_enqueued_at: Timestamp
    final_attempt: Annotated[bool, msgspec.Meta(
        description="No retry follows a failure of this attempt (the node reports "
                    "`will_retry` false).")] = False
    agent_id: Annotated[AgentId | None, msgspec.Meta(
        description="Agent-first preview: the agent who accepted the callback (or did not "
                    "answer in time) and is reserved for it.")] = None


TYPES: tuple[type[EventModel], ...] = (
    CallbackRequested, CallbackScheduled, CallbackDialling, CallbackConnected, CallbackFailed,
    CallbackCancelled, DialCallback, CallbackPreviewOffered, CallbackPreviewAnswered,
    CallbackRefused,
)
