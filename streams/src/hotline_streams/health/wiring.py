"""``GET /ready`` (and ``/readyz``, the name the operator's and chart's probes use): 200
once partitions are assigned, tables recovered and streams run; ``GET /healthz``: the
worker's web server answers (its event loop is alive). And a watchdog that restarts a
stalled table recovery."""

from __future__ import annotations

import logging
import time

from faust.web import Request, Response, View

from hotline_streams.app import app, tenant_events
from hotline_streams.health.logic import RECOVERY_STALL_S, stalled_recovery

log = logging.getLogger("hotline_streams.health")


@app.timer(interval=RECOVERY_STALL_S / 2)  # type: ignore[untyped-decorator]
async def restart_a_stalled_recovery() -> None:
    """faust-streaming 0.15 sometimes receives none of the changelog records it seeks to
    after a rebalance in which this worker kept partitions with state: seen in CI, the
    worker stayed unready for 90 s, until the next rebalance re-ran the recovery. This
    re-runs it (same partitions: re-seek, resume, read) instead of waiting for one."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    stuck = stalled_recovery(
        in_recovery=recovery.in_recovery, started_at=recovery._recovery_started_at,
        now=time.monotonic(), received_any=bool(recovery._active_events_received_at),
        highwaters=recovery.active_highwaters, offsets=recovery.active_offsets)
    if stuck:
        log.warning("table recovery received no changelog record in %.0f s for %s; "
                    "restarting it (re-seek and resume); the worker stays unready until "
                    "it completes", RECOVERY_STALL_S,
                    ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(stuck)))
        recovery.signal_recovery_start.set()


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
