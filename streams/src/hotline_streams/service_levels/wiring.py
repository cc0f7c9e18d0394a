"""The service-levels agent: call ledger and per-queue intervals to the SLA topic."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from hotline_events.envelope import Event, decode
from hotline_streams import codec
from hotline_streams.app import (
    app,
    config_of,
    headers_of,
    publish,
    settings,
    sla_state,
    sla_topic,
    source,
    tenant_events,
)
from hotline_streams.ledger.logic import call_id_of
from hotline_streams.ledger.models import CallEntry
from hotline_streams.service_levels.adapters import on_event as sla_on_event
from hotline_streams.service_levels.adapters import to_event
from hotline_streams.service_levels.intervals import SlaBook

log = logging.getLogger("hotline_streams.service_levels")


@app.agent(tenant_events)
async def service_levels(stream: Any) -> None:
    """Call ledger and per-queue 15-minute intervals; interval figures to the SLA topic."""
    async for record in stream.events():
        event = decode(headers_of(record.headers), record.value)
        tenant = record.key
        config = config_of(tenant.decode())
        call_id = call_id_of(event)
        before = None
        if call_id is not None:
            stored = sla_state.get(b"L/" + call_id.encode())
            before = codec.load(stored, CallEntry) if stored is not None else None
        stored_book = sla_state.get(b"B/" + tenant)
        book = codec.load(stored_book, SlaBook) if stored_book is not None \
            else SlaBook(tenant=tenant.decode())
        book, after, emits, dropped = sla_on_event(
            book, before, event, config, settings.sla_grace_s,
            (record.message.partition, record.message.offset))
        if dropped:
            log.warning("SLA: %d outcome(s) of call %s later than the %.0f s grace, dropped",
                        dropped, call_id, settings.sla_grace_s)
        for emit in emits:
            data, event_id = to_event(emit, tenant.decode(), settings.site,
                                      config.settings(emit.interval.queue))
            await publish(sla_topic, Event(data=data, source=source, id=event_id,
                                           time=datetime.fromtimestamp(book.watermark, UTC)))
        # State after the output is acknowledged (a crash before repeats emits, never loses
        # them); the book before the ledger entry, both into one changelog partition in
        # this order: a book that already counted the event skips it on replay (by its
        # offset), while the ledger fold is idempotent.
        sla_state[b"B/" + tenant] = codec.dump(book)
        if call_id is not None and after is not None and after is not before:
            sla_state[b"L/" + call_id.encode()] = codec.dump(after)
