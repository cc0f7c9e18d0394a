"""Pure decisions of the pool: the worker line protocol, the edge's set, lost calls."""

from __future__ import annotations

from collections.abc import Iterable

from hotline_events.models import EventModel
from hotline_events.models.calls import CallAbandoned, CallCompleted, CallOffered, CallQueued
from hotline_events.models.sites import MediaNodeHeartbeat
from hotline_media_nodes.edge.render import Destination
from hotline_media_nodes.pool.models import (
    CallBegan,
    CallEnded,
    CallQueuedIn,
    Draining,
    OpenCall,
    Ready,
    Slot,
    WorkerNews,
)
from hotline_media_nodes.worker.calls import MAX_CALLERS
from hotline_media_nodes.worker.pjsip import MAX_CALLS

LOST_DISPOSITION = "media-node-lost"
QUICK_DEATH_SECONDS = 10.0  # a worker dying sooner than this after start backs off
MAX_RESTART_DELAY = 30.0

# --- the worker → pool line protocol (the worker's stdout) ---------------------------


def call_line(data: EventModel) -> str | None:
    """The line a worker prints for one of its published events, if the pool cares."""
    if isinstance(data, CallOffered):
        return f"call+ {data.call_id} {data.tenant}"
    if isinstance(data, CallQueued):
        return f"queue {data.call_id} {data.queue}"
    if isinstance(data, CallCompleted | CallAbandoned):
        return f"call- {data.call_id}"
    return None


def parse_line(line: str) -> WorkerNews | None:
    """A worker's stdout line → news; anything else (or malformed) → None."""
    parts = line.split()
    match parts:
        case ["ready", sip] if sip.startswith("sip=") and ":" in sip:
            return Ready(sip[4:])
        case ["draining"]:
            return Draining()
        case ["call+", call_id, tenant]:
            return CallBegan(call_id, tenant)
        case ["queue", call_id, queue]:
            return CallQueuedIn(call_id, queue)
        case ["call-", call_id]:
            return CallEnded(call_id)
    return None


def apply_news(slot: Slot, news: WorkerNews) -> None:
    if isinstance(news, Ready):
        slot.state, slot.address = "ready", news.address
    elif isinstance(news, Draining):
        slot.state = "draining"
    elif isinstance(news, CallBegan):
        slot.calls[news.call_id] = OpenCall(news.call_id, news.tenant)
    elif isinstance(news, CallQueuedIn):
        if news.call_id in slot.calls:
            slot.calls[news.call_id].queue = news.queue
    elif isinstance(news, CallEnded):
        slot.calls.pop(news.call_id, None)


# --- a worker's death ----------------------------------------------------------------


def lost_call_events(calls: Iterable[OpenCall]) -> list[CallCompleted]:
    """The last event of each call a dead worker held: completed by the system, lost.

    Not an abandon: the caller did not give up, and service levels must not count the
    platform's failure against the queue as the caller's choice.
    """
    return [CallCompleted(call_id=c.call_id, tenant=c.tenant, queue=c.queue, talk_seconds=0.0,
                          hold_seconds=0.0, wrap_up_seconds=0.0,
                          disposition=LOST_DISPOSITION, ended_by="system")
            for c in sorted(calls, key=lambda c: c.call_id)]


def on_death(slot: Slot, now: float) -> list[OpenCall]:
    """Mark ``slot`` dead, schedule its restart with backoff; returns its lost calls."""
    lost = list(slot.calls.values())
    slot.calls.clear()
    quick = now - slot.started_at < QUICK_DEATH_SECONDS
    slot.quick_deaths = slot.quick_deaths + 1 if quick else 0
    slot.state, slot.address = "dead", None
    slot.start_at = now + restart_delay(slot.quick_deaths)
    return lost


def restart_delay(quick_deaths: int) -> float:
    """0 for a worker that ran a while; 1, 2, 4 … 30 s for one that keeps dying at once."""
    return 0.0 if quick_deaths == 0 else min(MAX_RESTART_DELAY, 2.0 ** (quick_deaths - 1))


# --- the edge and the heartbeat ------------------------------------------------------


def destination_set(slots: Iterable[Slot]) -> tuple[Destination, ...]:
    """The dispatcher destinations: the ready workers only (in slot order).

    Each takes ``MAX_CALLERS`` new calls (2): a worker keeps a leg free per caller for
    its agent, so Kamailio's call-load count stops there rather than at 4 legs.
    """
    return tuple(Destination(s.address, s.name, max_load=MAX_CALLERS)
                 for s in sorted(slots, key=lambda s: s.index)
                 if s.state == "ready" and s.address is not None)


def node_heartbeat(node: str, site: str, slots: Iterable[Slot],
                   draining: bool) -> MediaNodeHeartbeat:
    slots = list(slots)
    ready = [s for s in slots if s.state == "ready"]
    return MediaNodeHeartbeat(
        media_node=node, site=site, capacity=0 if draining else MAX_CALLS * len(ready),
        active_calls=sum(len(s.calls) for s in slots),
        workers=sum(1 for s in slots if s.state != "dead"), draining=draining)
