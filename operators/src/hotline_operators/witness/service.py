"""The witness over HTTP (aiohttp): thin wiring around witness.logic.

    POST /heartbeat {"site": "site-a"}
    POST /takeover  {"holder": "site-a", "failed_site": "site-b"} -> 200 {"token": N} | 409
    POST /release   {"failed_site": "site-b", "token": N}
    GET  /leases, GET /healthz

Leases live in memory (one replica). Fencing tokens start from the wall clock in
milliseconds so they keep growing across restarts, and a restarted witness grants
nothing for one peer timeout, until it has heard who is alive.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

from aiohttp import web

from hotline_operators.witness.logic import (
    Grant,
    WitnessState,
    heartbeat,
    release,
    request_takeover,
)

log = logging.getLogger("hotline.witness")
STATE: web.AppKey[dict[str, Any]] = web.AppKey("state", dict)


def _name(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise web.HTTPBadRequest(text=f"field {key!r} must be a non-empty string")
    return value


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


async def on_heartbeat(request: web.Request) -> web.Response:
    site = _name(await _json(request), "site")
    box = request.app[STATE]
    box["state"] = heartbeat(box["state"], site, time.monotonic())
    return web.json_response({"ok": True})


async def on_takeover(request: web.Request) -> web.Response:
    body = await _json(request)
    holder, failed = _name(body, "holder"), _name(body, "failed_site")
    box = request.app[STATE]
    now = time.monotonic()
    if now < box["grants_from"]:
        return web.json_response({"reason": "the witness restarted and is still learning "
                                            "which sites are alive"}, status=409)
    box["state"], answer = request_takeover(box["state"], holder, failed, now)
    if isinstance(answer, Grant):
        log.warning("lease %d: %s takes over %s", answer.lease.token, holder, failed)
        return web.json_response({"token": answer.lease.token, "holder": holder,
                                  "failed_site": failed})
    log.info("takeover of %s by %s refused: %s", failed, holder, answer.reason)
    return web.json_response({"reason": answer.reason}, status=409)


async def on_release(request: web.Request) -> web.Response:
    body = await _json(request)
    failed = _name(body, "failed_site")
    token = body.get("token")
    if not isinstance(token, int):
        raise web.HTTPBadRequest(text="field 'token' must be an integer")
    box = request.app[STATE]
    box["state"] = release(box["state"], failed, token)
    return web.json_response({"released": failed not in box["state"].leases})


async def on_leases(request: web.Request) -> web.Response:
    state: WitnessState = request.app[STATE]["state"]
    return web.json_response({site: asdict(lease) for site, lease in state.leases.items()})


async def on_health(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def make_app(peer_timeout_s: float) -> web.Application:
    app = web.Application()
    app[STATE] = {
        "state": WitnessState(peer_timeout_s=peer_timeout_s,
                              last_token=int(time.time() * 1000)),
        "grants_from": time.monotonic() + peer_timeout_s,
    }
    app.add_routes([web.post("/heartbeat", on_heartbeat), web.post("/takeover", on_takeover),
                    web.post("/release", on_release), web.get("/leases", on_leases),
                    web.get("/healthz", on_health)])
    return app
