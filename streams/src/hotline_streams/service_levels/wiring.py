"""Service levels of the tenant stream: call ledger and per-queue intervals to the SLA
topic, and their checkpoints. The agent that calls it is ``tenant_stream``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from hotline_events.envelope import Event
from hotline_streams import codec
from hotline_streams.app import app, config_of, settings, sla_state, source
from hotline_streams.durable import DurableAcks
from hotline_streams.ledger.logic import call_id_of
from hotline_streams.ledger.models import CallEntry
from hotline_streams.queue_stats.adapters import live
from hotline_streams.service_levels.adapters import (
    agent_seconds,
    on_event,
    on_tick,
    to_event,
    window_figures,
)
from hotline_streams.service_levels.intervals import SlaBook

log = logging.getLogger("hotline_streams.service_levels")


# Decoded SLA books and the ledger entries changed since the last checkpoint: like the
# routing books, the table holds checkpoints (``tenant_stream`` acks the events after
# one only with the next), so a crash replays them onto the last checkpoint.
sla_books: dict[bytes, SlaBook] = {}
entries: dict[bytes, tuple[int, CallEntry]] = {}  # "L/<call>" → (partition, entry), dirty
_dirty_books: dict[bytes, int] = {}  # tenant → its changelog partition


async def _forget(sender: Any, revoked: Any, **kwargs: Any) -> None:
    """Partitions may move: re-read from the table (the last checkpoint) afterwards; the
    un-checkpointed events are un-acked and come again."""
    sla_books.clear()
    entries.clear()
    _dirty_books.clear()


app.on_partitions_revoked.connect(_forget)  # type: ignore[arg-type]  # faust types it loosely


def _book(tenant: bytes) -> SlaBook:
    book = sla_books.get(tenant)
    if book is None:
        stored = sla_state.get(b"B/" + tenant)
        book = codec.load(stored, SlaBook) if stored is not None \
            else SlaBook(tenant=tenant.decode())
        sla_books[tenant] = book
    return book


def _entry(key: bytes) -> CallEntry | None:
    if key in entries:
        return entries[key][1]
    stored = sla_state.get(key)
    return codec.load(stored, CallEntry) if stored is not None else None


def account(tenant: bytes, event: Event | None, position: tuple[int, int],
            wall_s: float) -> list[Event]:
    """One record of the tenant topic (``None``: a tick) into the call ledger and the
    tenant's intervals; the SLA interval records to publish."""
    config = config_of(tenant.decode())
    book = _book(tenant)
    if event is None:
        book, emits = on_tick(book, config, settings.sla_grace_s, position, wall_s)
        live.note_windows(tenant.decode(), window_figures(book, config))
    else:
        call_id = call_id_of(event)
        key = b"L/" + call_id.encode() if call_id is not None else None
        before = _entry(key) if key is not None else None
        book, after, emits, dropped = on_event(
            book, before, event, config, settings.sla_grace_s, position, wall_s,
            emit_provisional=False)  # open intervals' updates go out on the ticks
        if dropped:
            log.warning("SLA tenant %s: %d outcome(s) of call %s came later than the "
                        "%.0f s grace after their interval; not counted",
                        tenant.decode(), dropped, call_id, settings.sla_grace_s)
        if key is not None and after is not None and after is not before:
            entries[key] = (position[0], after)
    if book is not sla_books[tenant]:
        sla_books[tenant] = book
        _dirty_books[tenant] = position[0]
    out = [to_event(emit, tenant.decode(), settings.site, config.settings(emit.interval.queue),
                    agent_seconds(book, emit, config)) for emit in emits]
    at = datetime.fromtimestamp(book.watermark, UTC)
    return [Event(data=data, source=source, id=event_id, time=at) for data, event_id in out]


def checkpoint(acks: DurableAcks) -> None:
    """Changed books, then changed ledger entries, into the table (after the outputs).

    Order matters, all in the tenant's changelog partition: a book that already counted
    an event skips it on replay (by its offset) while the ledger fold is idempotent, so
    a crash between the two writes loses nothing; the other order would (a ledger entry
    ahead of its book makes the replayed outcome look unchanged)."""
    for tenant, partition in sorted(_dirty_books.items()):
        acks.put(sla_state, partition, b"B/" + tenant, codec.dump(sla_books[tenant]))
    for key, (partition, entry) in entries.items():
        acks.put(sla_state, partition, key, codec.dump(entry))
    _dirty_books.clear()
    entries.clear()
