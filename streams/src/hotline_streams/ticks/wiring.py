"""The tick timer: every ``tick_s`` a tick record per known tenant onto the tenant
topic, so routing (ring-no-answer, overflow) and service levels (intervals closing)
see time pass in the same ordered stream as the tenant's events."""

from __future__ import annotations

import logging

from hotline_streams.app import app, outbox, routing_books, settings, tenant_events, tenants
from hotline_streams.ticks.models import TICK_HEADER

log = logging.getLogger("hotline_streams.ticks")


@app.timer(interval=settings.tick_s)  # type: ignore[untyped-decorator]
async def tick() -> None:
    """Configured tenants and those this worker holds routing state for; a duplicate
    tick from another worker only repeats "now" (harmless)."""
    known = set(tenants) | {key.decode() for key in routing_books}
    for tenant in sorted(known):
        outbox.send(tenant_events.get_topic_name(), tenant.encode(), b"", [(TICK_HEADER, b"1")])
