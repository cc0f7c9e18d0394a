"""``GET /ready``: 200 once partitions are assigned, tables recovered and streams run."""

from __future__ import annotations

from faust.web import Request, Response, View

from hotline_streams.app import app, tenant_events


@app.page("/ready")
async def ready(web: View, request: Request) -> Response:
    """200 once partitions are assigned, tables recovered and streams flowing."""
    recovered = app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
    # Ready means the tenant topic is assigned: a worker without it processes nothing.
    assigned = app.consumer is not None and any(
        tp.topic == tenant_events.get_topic_name() for tp in app.consumer.assignment())
    ok = recovered and assigned and not app.rebalancing
    return web.json({"ready": ok, "recovered": recovered, "assigned": assigned,
                    "rebalancing": app.rebalancing}, status=200 if ok else 503)
