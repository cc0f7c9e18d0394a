"""Pages: ``/metrics`` (OpenTelemetry gauges in Prometheus text) and the per-queue JSON
view of a tenant for the wallboard."""

from __future__ import annotations

from dataclasses import asdict

import msgspec
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hotline_streams.app import app
from hotline_streams.queue_stats.adapters import live, metrics_provider
from hotline_streams.routing.logic import queue_order
from hotline_streams.routing.wiring import current_book, tenant_page

provider = metrics_provider()


@app.page("/metrics")
async def metrics(web: View, request: Request) -> Response:
    """Live queue gauges and 5/15/60-minute service-level windows, for Prometheus."""
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@tenant_page("/tenants/{tenant}/queues")
async def queues_view(web: View, request: Request, tenant: str) -> Response:
    """Each queue's live statistics and sliding windows (latest published)."""
    queues: dict[str, dict[str, object]] = {}
    for (t, queue), stats in sorted(live.stats.items()):
        if t == tenant:
            queues.setdefault(queue, {})["live"] = msgspec.to_builtins(stats)
    for (t, queue, minutes), fig in sorted(live.windows.items()):
        if t == tenant:
            queues.setdefault(queue, {}).setdefault("windows", {})[f"{minutes}m"] = asdict(fig)  # type: ignore[index]
    return web.json({"tenant": tenant, "queues": queues})


@tenant_page("/tenants/{tenant}/waiting")
async def waiting_view(web: View, request: Request, tenant: str) -> Response:
    """Waiting contacts in routing order with their latest position and estimate."""
    book = current_book(tenant.encode())
    estimates = live.estimates.get(tenant, {})
    contacts = sorted((c for c in book.state.contacts.values() if c.offered_to is None),
                      key=queue_order) if book is not None else []
    return web.json({"tenant": tenant, "waiting": [
        {"call_id": c.call_id, "queue": c.queue, "tier": c.tier.value,
         "enqueued_at": c.enqueued_at,
         "position": estimates[c.call_id].position if c.call_id in estimates else None,
         "estimated_wait_seconds": estimates[c.call_id].estimated_wait_seconds
         if c.call_id in estimates else None} for c in contacts]})
