"""The tenant topic's one Faust agent: each record through routing, then service levels.

Why one agent: every agent on a topic pays faust's per-message cost (stream
iteration, acks, offsets) for every record; routing and SLA read the same records, so
one agent runs both pure steps in sequence (each in its own package's ``wiring``).
Their state is checkpointed together, every ``CHECKPOINT_S`` or ``CHECKPOINT_EVENTS``
and on every tick; the events in between are acked with the next checkpoint
(``DurableAcks``), so a crash replays them onto it, deterministically.
"""

from __future__ import annotations

import time
from typing import Any

from hotline_events.envelope import decode
from hotline_streams.app import app, headers_of, is_tick, outbox, send, tenant_events
from hotline_streams.durable import DurableAcks
from hotline_streams.routing import wiring as routing
from hotline_streams.service_levels import wiring as service_levels

CHECKPOINT_EVENTS = 200
CHECKPOINT_S = 0.2


@app.agent(tenant_events)
async def tenant_stream(stream: Any) -> None:
    """Routing decisions to the routing topic, SLA intervals to the SLA topic."""
    acks = DurableAcks(stream.noack(), app, outbox)
    pending = 0
    checkpointed = time.monotonic()
    async for record in acks.events():
        headers = headers_of(record.headers)
        tick = is_tick(headers)
        event = None if tick else decode(headers, record.value)
        position = (record.message.partition, record.message.offset)
        wall_s = record.message.timestamp
        out = routing.route(record.key, event, position, wall_s)
        out += service_levels.account(record.key, event, position, wall_s)
        for sent in await send(*out):
            acks.output(sent)
        pending += 1
        if tick or pending >= CHECKPOINT_EVENTS \
                or time.monotonic() - checkpointed >= CHECKPOINT_S:
            routing.checkpoint(acks)
            service_levels.checkpoint(acks)
            pending = 0
            checkpointed = time.monotonic()
        acks.done(record, settled=pending == 0)
