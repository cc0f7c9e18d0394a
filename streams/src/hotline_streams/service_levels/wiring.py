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
    is_tick,
    publish,
    settings,
    sla_state,
    source,
    tenant_events,
)
from hotline_streams.durable import DurableAcks
from hotline_streams.ledger.logic import call_id_of
from hotline_streams.ledger.models import CallEntry
from hotline_streams.queue_stats.adapters import live
from hotline_streams.service_levels.adapters import on_event, on_tick, to_event
from hotline_streams.service_levels.intervals import SlaBook
from hotline_streams.service_levels.windows import WINDOWS_MIN, window

log = logging.getLogger("hotline_streams.service_levels")


@app.agent(tenant_events)
async def service_levels(stream: Any) -> None:
    """Call ledger and per-queue 15-minute intervals; interval figures to the SLA topic."""
    acks = DurableAcks(stream := stream.noack(), app)
    async for record in stream.events():
        headers = headers_of(record.headers)
        tenant = record.key
        config = config_of(tenant.decode())
        position = (record.message.partition, record.message.offset)
        stored_book = sla_state.get(b"B/" + tenant)
        book = codec.load(stored_book, SlaBook) if stored_book is not None \
            else SlaBook(tenant=tenant.decode())
        call_id = before = after = None
        if is_tick(headers):
            book, emits = on_tick(book, config, settings.sla_grace_s, position,
                                  record.message.timestamp)
            now = book.clock.event_s
            live.note_windows(tenant.decode(), [
                (length, window(book.minutes.get(queue, {}), now, length,
                                config.settings(queue)))
                for queue in sorted(set(book.minutes) | set(config.queues))
                for length in WINDOWS_MIN])
        else:
            event = decode(headers, record.value)
            call_id = call_id_of(event)
            if call_id is not None:
                stored = sla_state.get(b"L/" + call_id.encode())
                before = codec.load(stored, CallEntry) if stored is not None else None
            book, after, emits, dropped = on_event(
                book, before, event, config, settings.sla_grace_s, position,
                record.message.timestamp, emit_provisional=False)  # open ones on the ticks
            if dropped:
                log.warning("SLA tenant %s: %d outcome(s) of call %s came later than the "
                            "%.0f s grace after their interval; not counted",
                            tenant.decode(), dropped, call_id, settings.sla_grace_s)
        out = [to_event(emit, tenant.decode(), settings.site,
                        config.settings(emit.interval.queue)) for emit in emits]
        await publish(*(Event(data=data, source=source, id=event_id,
                              time=datetime.fromtimestamp(book.watermark, UTC))
                        for data, event_id in out))
        # State after the output is acknowledged (a crash before repeats emits, never loses
        # them), and the input acked only once the state is durable (``DurableAcks``). The
        # book before the ledger entry, both into one changelog partition in this order: a
        # book that already counted the event skips it on replay (by its offset), while
        # the ledger fold is idempotent.
        acks.put(sla_state, record, b"B/" + tenant, codec.dump(book))
        if call_id is not None and after is not None and after is not before:
            acks.put(sla_state, record, b"L/" + call_id.encode(), codec.dump(after))
        acks.done(record)
