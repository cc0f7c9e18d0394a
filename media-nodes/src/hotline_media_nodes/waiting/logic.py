"""What a waiting caller hears next, and what that publishes (pure).

- an estimate (from ``cc.queue.estimates``) only updates what is known;
- ``next_speech`` (asked on every tick while the caller waits, nothing playing) offers
  a callback once, when the estimate exceeds the queue's threshold and the caller's
  number is known; otherwise announces position and wait every period;
- after the offer, the offer key is accepted until ``OFFER_WINDOW`` seconds after it
  was said; accepting publishes ``CallbackRequested`` (callback events) and ends the
  call as completed (a callback request is not an abandon), after a confirmation.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import CallbackOffered, CallCompleted, PositionAnnounced
from hotline_media_nodes.ivr.announce import fragments
from hotline_media_nodes.waiting.models import (
    EndCall,
    Publish,
    ResumeHold,
    Speak,
    WaitEffect,
    Waiting,
)

OFFER_WINDOW = 10.0
DISPOSITION = "callback-requested"


def on_estimate(w: Waiting, position: int, estimated_wait_seconds: float) -> Waiting:
    return replace(w, position=position, estimated_wait_seconds=estimated_wait_seconds)


def next_speech(w: Waiting, now: float) -> tuple[Waiting, list[WaitEffect]]:
    if w.done or w.speaking is not None or w.estimated_wait_seconds is None:
        return w, []
    offer = w.queue.callback
    if (offer is not None and not w.offered and w.caller_token is not None
            and w.estimated_wait_seconds > offer.offer_above_seconds):
        return replace(w, speaking="offer", offered=True), [
            Publish(CallbackOffered(call_id=w.call_id, tenant=w.tenant, queue=w.queue.id,
                                    estimated_wait_seconds=w.estimated_wait_seconds,
                                    promised_within_seconds=offer.promised_within_seconds)),
            Speak((offer.prompt,), "offer")]
    period = w.queue.announce_every_seconds
    if (period and w.position is not None and w.next_announcement_at is not None
            and now >= w.next_announcement_at):
        return replace(w, speaking="announcement", next_announcement_at=now + period), [
            Publish(PositionAnnounced(call_id=w.call_id, tenant=w.tenant, queue=w.queue.id,
                                      position=w.position,
                                      estimated_wait_seconds=w.estimated_wait_seconds)),
            Speak(tuple(fragments(w.position, w.estimated_wait_seconds)), "announcement")]
    return w, []


def speech_ended(w: Waiting, now: float) -> tuple[Waiting, list[WaitEffect]]:
    if w.speaking == "confirm":
        return replace(w, speaking=None), [EndCall()]
    if w.speaking == "offer":
        return replace(w, speaking=None, offer_open_until=now + OFFER_WINDOW), [ResumeHold()]
    return replace(w, speaking=None), [ResumeHold()]


def key(w: Waiting, pressed: str, now: float,
        callback_id: str | None = None) -> tuple[Waiting, list[WaitEffect]] | None:
    """The caller's key while waiting; ``None`` = not for the waiting logic."""
    offer = w.queue.callback
    if offer is None or w.done or not w.offered or pressed != offer.key:
        return None
    open_ = w.speaking == "offer" or (w.offer_open_until is not None
                                      and now <= w.offer_open_until)
    if not open_ or w.caller_token is None:
        return None
    return replace(w, done=True, speaking="confirm"), [
        Publish(CallbackRequested(callback_id=callback_id or f"cb-{uuid.uuid4().hex}",
                                  call_id=w.call_id, tenant=w.tenant, queue=w.queue.id,
                                  reason="caller-request", caller_token=w.caller_token,
                                  original_enqueued_at=w.enqueued_wall,
                                  priority=w.queue.priority)),
        Publish(CallCompleted(call_id=w.call_id, tenant=w.tenant, queue=w.queue.id,
                              talk_seconds=0.0, hold_seconds=0.0, wrap_up_seconds=0.0,
                              disposition=DISPOSITION, ended_by="system")),
        Speak((offer.confirm,), "confirm")]
