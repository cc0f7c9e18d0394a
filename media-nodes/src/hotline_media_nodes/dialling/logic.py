"""Which dial commands to act on, what a dial's SIP outcome means, and the caller's
number a later callback will dial (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import msgspec

from hotline_events.models.callbacks import (
    CallbackConnected,
    CallbackDialling,
    CallbackFailed,
    DialCallback,
)
from hotline_events.models.calls import CallQueued
from hotline_events.models.identity import CallerIdentified
from hotline_events.pii import normalise_number

FailReason = Literal["no-answer", "busy", "rejected", "invalid-number", "error"]
MAX_COMMAND_AGE_SECONDS = 120.0  # older: the customer was promised a call long ago → void


@dataclass(frozen=True)
class Dial:
    uri: str


@dataclass(frozen=True)
class Skip:
    why: str


def judge(cmd: DialCallback, sent_at: datetime, now: datetime, site: str,
          seen: frozenset[str], uri_template: str,
          max_age: float = MAX_COMMAND_AGE_SECONDS) -> Dial | Skip:
    """Dial, or skip (another site's command, a replay, or one too old to honour)."""
    if cmd.site != site:
        return Skip(f"for site {cmd.site}, this node is in {site}")
    claim = f"{cmd.claim_id}/{cmd.attempt}"
    if claim in seen:
        return Skip(f"claim {claim} was already dialled by this worker")
    age = (now - sent_at).total_seconds()
    if age > max_age:
        return Skip(f"issued {age:.0f} s ago (more than {max_age:.0f} s): stale after a "
                    "restart or a backlog; the callbacks service re-issues it")
    return Dial(uri_template.format(number=cmd.caller_number))


def failure(status: int) -> FailReason:
    """A final SIP status before an answer → the callback's failure reason."""
    if status in (486, 600):
        return "busy"
    if status in (404, 410, 484, 485, 604):
        return "invalid-number"
    if status in (403, 603):
        return "rejected"
    if status in (408, 480, 487):  # 487: we cancelled it after the ring timeout
        return "no-answer"
    return "error"


def dialling(cmd: DialCallback, site: str, media_node: str,
             outbound_call_id: str) -> CallbackDialling:
    return CallbackDialling(callback_id=cmd.callback_id, call_id=cmd.call_id,
                            tenant=cmd.tenant, site=site, media_node=media_node,
                            outbound_call_id=outbound_call_id, attempt=cmd.attempt)


def connected(cmd: DialCallback, outbound_call_id: str, ring_seconds: float) -> CallbackConnected:
    return CallbackConnected(callback_id=cmd.callback_id, call_id=cmd.call_id,
                             tenant=cmd.tenant, outbound_call_id=outbound_call_id,
                             attempt=cmd.attempt, ring_seconds=max(0.0, ring_seconds))


def requeued(queued: CallQueued, cmd: DialCallback) -> CallQueued:
    """The answered callback's queue entry: it keeps the original call's place in line,
    names its callback, and (agent-first preview) the agent reserved for it, so routing
    offers it to the agent who accepted rather than to whoever is best."""
    return msgspec.structs.replace(queued, original_enqueued_at=cmd.original_enqueued_at,
                                   callback_id=cmd.callback_id,
                                   reserved_agent_id=cmd.agent_id)


def failed(cmd: DialCallback, reason: FailReason) -> CallbackFailed:
    # Whether to try again is the callbacks service's call (it owns attempts and claims);
    # it says so on the command, and BI reads it back from here.
    return CallbackFailed(callback_id=cmd.callback_id, call_id=cmd.call_id, tenant=cmd.tenant,
                          attempt=cmd.attempt, reason=reason, will_retry=not cmd.final_attempt)


def identified(call_id: str, tenant: str, caller_uri_user: str | None,
               caller_token: str | None) -> CallerIdentified | None:
    """The caller's number for the personal identity topic (screen pop, and the number a
    callback dials), or None when the number is withheld or not a number."""
    if caller_token is None or caller_uri_user is None:
        return None
    try:
        number = normalise_number(caller_uri_user)
    except ValueError:
        return None
    return CallerIdentified(call_id=call_id, tenant=tenant, caller_number=number,
                            caller_token=caller_token)
