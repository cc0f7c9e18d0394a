"""Pure decisions of a worker: who may call, what was dialled, which events to publish."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from hotline_events.models.calls import (
    CallAbandoned,
    CallAnsweredByIvr,
    CallCompleted,
    CallOffered,
    CallQueued,
    IvrSelection,
    IvrStep,
    SelfServiceCompleted,
)
from hotline_events.pii import caller_token
from hotline_media_nodes.ivr.machine import Selected, ServiceOutcome
from hotline_media_nodes.ivr.models import EntryPoint, Flow, QueueTarget

# --- admission ------------------------------------------------------------------------


@dataclass(frozen=True)
class Admit:
    flow: Flow
    entry: EntryPoint


@dataclass(frozen=True)
class Reject:
    status: int
    reason: str
    retry_after: int | None = None


def parse_allow_list(entries: Iterable[str]) -> tuple[ipaddress.IPv4Network |
                                                      ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def source_host(src_address: str) -> str:
    """``127.0.0.1:5060`` / ``[::1]:5060`` → the host part."""
    if src_address.startswith("["):
        return src_address[1:].split("]", 1)[0]
    return src_address.rsplit(":", 1)[0] if src_address.count(":") == 1 else src_address


def admit(src_address: str, dialled: str,
          allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
          flows: Mapping[str, Flow], *, draining: bool, active_calls: int, capacity: int,
          retry_after: int = 30) -> Admit | Reject:
    """Whether to answer an INVITE, in order: trunk allowed, not draining, room, number."""
    try:
        addr = ipaddress.ip_address(source_host(src_address))
    except ValueError:
        return Reject(403, f"source {src_address!r} is not an IP address")
    if not any(addr in net for net in allow):
        return Reject(403, f"source {addr} is not an allow-listed trunk")
    if draining:
        return Reject(503, "draining (SIGTERM)", retry_after)
    if active_calls >= capacity:
        return Reject(486, f"at capacity ({capacity} calls)")
    flow = flows.get(dialled)
    if flow is None:
        return Reject(404, f"dialled number {dialled!r} is no entry point here")
    entry = flow.entry_for(dialled)
    assert entry is not None
    return Admit(flow, entry)


def flows_by_number(flows: Iterable[Flow]) -> dict[str, Flow]:
    by_number: dict[str, Flow] = {}
    for flow in flows:
        for entry in flow.entry_points:
            if entry.number in by_number:
                raise ValueError(f"number {entry.number} is an entry point of both "
                                 f"{by_number[entry.number].tenant} and {flow.tenant}")
            by_number[entry.number] = flow
    return by_number


# --- SIP text -------------------------------------------------------------------------

_URI_USER = re.compile(r"sips?:([^@;>\s]+)@", re.IGNORECASE)


def uri_user(uri: str) -> str | None:
    """The user part of a SIP URI (``"A" <sip:+4930123@host>`` → ``+4930123``)."""
    match = _URI_USER.search(uri)
    return match.group(1) if match else None


def request_uri_user(whole_msg: str) -> str | None:
    """The user part of the request line's URI: the dialled number (DNIS)."""
    first = whole_msg.split("\n", 1)[0].strip()
    parts = first.split(" ")
    if len(parts) != 3 or not parts[2].upper().startswith("SIP/"):
        return None
    return uri_user(parts[1])


def caller_identity(remote_uri: str, key: bytes) -> tuple[str | None, bool]:
    """(caller_token, withheld): the caller's number never leaves this function."""
    user = uri_user(remote_uri)
    if user is None or user.lower() in ("anonymous", "restricted", "unknown"):
        return None, True
    try:
        return caller_token(user, key), False
    except ValueError:
        return None, True  # not a number: treat as withheld


# --- trace context --------------------------------------------------------------------

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def start_trace(parent: str | None, rand: Callable[[int], bytes] = os.urandom) -> str:
    """W3C ``traceparent`` for a call's events: the parent's trace (a callback continues
    the trace of the call it came from) or a new one, with a span of this node's own."""
    match = _TRACEPARENT.match(parent or "")
    trace = match.group(1) if match else rand(16).hex()
    return f"00-{trace}-{rand(8).hex()}-01"


# --- event bodies ---------------------------------------------------------------------


@dataclass
class CallRecord:
    """What a worker knows about one call, for its events (nothing personal)."""

    call_id: str
    sip_call_id: str
    tenant: str
    dialled: str
    caller_tier: Literal["standard", "vip"]
    caller_token: str | None
    caller_withheld: bool
    offered_at: float  # monotonic seconds
    answered_at: float | None = None
    queue: QueueTarget | None = None
    enqueued_at: float | None = None
    service_started_at: float | None = None
    ended: bool = False


def offered(rec: CallRecord, site: str, media_node: str) -> CallOffered:
    return CallOffered(call_id=rec.call_id, tenant=rec.tenant, site=site,
                       media_node=media_node, dialled_number=rec.dialled,
                       caller_token=rec.caller_token, caller_withheld=rec.caller_withheld)


def answered(rec: CallRecord, media_node: str, now: float) -> CallAnsweredByIvr:
    return CallAnsweredByIvr(call_id=rec.call_id, tenant=rec.tenant, media_node=media_node,
                             ring_seconds=max(0.0, now - rec.offered_at))


def _elapsed(rec: CallRecord, now: float) -> float:
    return max(0.0, now - (rec.answered_at if rec.answered_at is not None else now))


def ivr_step(rec: CallRecord, menu_id: str, level: int, prompt: str, now: float) -> IvrStep:
    return IvrStep(call_id=rec.call_id, tenant=rec.tenant, menu_id=menu_id, level=level,
                   prompt_id=prompt, elapsed_seconds=_elapsed(rec, now))


def ivr_selection(rec: CallRecord, sel: Selected, now: float) -> IvrSelection:
    return IvrSelection(call_id=rec.call_id, tenant=rec.tenant, menu_id=sel.menu_id,
                        level=sel.level, option=sel.option, target=sel.target,
                        barge_in=sel.barge_in, elapsed_seconds=_elapsed(rec, now))


def queued(rec: CallRecord, queue: QueueTarget, at: datetime) -> CallQueued:
    return CallQueued(call_id=rec.call_id, tenant=rec.tenant, queue=queue.id,
                      required_skills=queue.skills, language=queue.language,
                      priority=queue.priority, caller_tier=rec.caller_tier, enqueued_at=at)


def service_done(rec: CallRecord, service: str, outcome: ServiceOutcome,
                 now: float) -> SelfServiceCompleted:
    started = rec.service_started_at if rec.service_started_at is not None else now
    return SelfServiceCompleted(call_id=rec.call_id, tenant=rec.tenant, service=service,
                                outcome=outcome,
                                duration_seconds=max(0.0, now - started))


def ended(rec: CallRecord, stage: str, by: str, now: float,
          disposition: str = "self-service") -> CallAbandoned | CallCompleted:
    """The last event of a call the IVR still held: abandoned, or completed by the flow.

    ``by`` is who hung up: ``caller`` (a BYE or CANCEL) or ``system`` (the flow ended,
    e.g. after a self-service answer, or the node draining: ``disposition`` says which).
    """
    if by == "system":
        return CallCompleted(call_id=rec.call_id, tenant=rec.tenant,
                             queue=rec.queue.id if rec.queue else None, talk_seconds=0.0,
                             hold_seconds=0.0, wrap_up_seconds=0.0, disposition=disposition,
                             ended_by="system")
    if stage == "queue" and rec.queue is not None and rec.enqueued_at is not None:
        return CallAbandoned(call_id=rec.call_id, tenant=rec.tenant, stage="queue",
                             queue=rec.queue.id, wait_seconds=max(0.0, now - rec.enqueued_at))
    return CallAbandoned(call_id=rec.call_id, tenant=rec.tenant, stage="ivr", wait_seconds=0.0)
