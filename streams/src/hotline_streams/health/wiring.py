"""``GET /ready`` (and ``/readyz``, the name the operator's and chart's probes use): 200
once partitions are assigned, tables recovered and streams run; ``GET /healthz``: the
worker's web server answers (its event loop is alive)."""

from __future__ import annotations

from faust.web import Request, Response, View

from hotline_streams.app import app, tenant_events


@app.page("/healthz")
async def healthz(web: View, request: Request) -> Response:
    """Liveness: the event loop serves requests (a rebalance is not a reason to restart)."""
    return web.json({"status": "ok"})


def _readiness(web: View) -> Response:
    # ``completed`` stays set after the first recovery; a later rebalance recovers again
    # (``in_recovery``) after ``rebalancing`` is already over.
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    recovered = recovery.completed.is_set() and not app.in_recovery
    # Ready means the tenant topic is assigned: a worker without it processes nothing.
    assigned = app.consumer is not None and any(
        tp.topic == tenant_events.get_topic_name() for tp in app.consumer.assignment())
    ok = recovered and assigned and not app.rebalancing
    return web.json({"ready": ok, "recovered": recovered, "assigned": assigned,
                    "rebalancing": app.rebalancing}, status=200 if ok else 503)


@app.page("/readyz")
async def readyz(web: View, request: Request) -> Response:
    """200 once partitions are assigned, tables recovered and streams flowing."""
    return _readiness(web)


@app.page("/ready")
async def ready(web: View, request: Request) -> Response:
    """The same as ``/readyz`` (the name devstack and the tests use)."""
    return _readiness(web)
