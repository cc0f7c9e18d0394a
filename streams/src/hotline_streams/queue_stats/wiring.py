"""Pages: ``/metrics`` (OpenTelemetry gauges in Prometheus text) and the per-queue JSON
view of a tenant for the wallboard."""

from __future__ import annotations

from dataclasses import asdict

import msgspec
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hotline_streams.app import app
from hotline_streams.queue_stats.adapters import live, metrics_provider

provider = metrics_provider()


@app.page("/metrics")
async def metrics(web: View, request: Request) -> Response:
    """Live queue gauges and 5/15/60-minute service-level windows, for Prometheus."""
    return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/tenants/{tenant}/queues")
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
