"""The witness over HTTP (aiohttp): thin wiring around witness.logic and witness.store.

    POST /heartbeat {"site": "site-a"}                              -> 200 | 503
    POST /takeover  {"holder": "site-a", "failed_site": "site-b"}   -> 200 {"token": N} | 409 | 503
    POST /release   {"failed_site": "site-b", "token": N}           -> 200 {"released": bool} | 503
    GET  /leases, GET /healthz (503 with a reason while etcd does not answer)

Every POST is signed by a site with its own key (``witness.signing``): 401 if not,
403 if a site speaks for another (heartbeats for, takes over as, or releases the lease
of, a site other than itself). Only ``--insecure-unsigned`` turns this off.

Every answer comes from etcd (see witness.logic for the keys): a restarted witness,
or a second replica, answers exactly as the first did, with no learning window. When
etcd does not answer, the witness says so with 503 and grants nothing; the operator's
WitnessClient takes that as "no answer" and asks again at its next heartbeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import web

from hotline_operators.witness.logic import (
    Grant,
    Keys,
    heartbeat_ttl,
    release_txn,
    released,
    takeover_answer,
    takeover_txn,
)
from hotline_operators.witness.signing import verify
from hotline_operators.witness.store import Endpoint, EtcdStore, StoreUnavailable

log = logging.getLogger("hotline.witness")
STORE: web.AppKey[EtcdStore] = web.AppKey("store", EtcdStore)
TTL: web.AppKey[int] = web.AppKey("ttl", int)


@dataclass(frozen=True)
class SiteKeys:
    """site → key of the request signatures; None: unsigned (``--insecure-unsigned``)."""

    keys: Mapping[str, bytes] | None


KEYS: web.AppKey[SiteKeys] = web.AppKey("keys", SiteKeys)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def signed(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A POST goes on only signed by a known site (``request["site"]``)."""
    keys = request.app[KEYS].keys
    if request.method != "POST" or keys is None:
        return await handler(request)
    site, why = verify(keys, request.method, request.path, request.headers,
                       await request.read(), time.time())
    if site is None:
        log.warning("refused %s %s from %s: %s", request.method, request.path,
                    request.remote, why)
        return web.json_response({"reason": why}, status=401)
    request["site"] = site
    return await handler(request)


def _as_signer(request: web.Request, site: str, what: str) -> None:
    """403 unless the request is signed by ``site`` (or signing is off)."""
    signer = request.get("site")
    if request.app[KEYS].keys is not None and signer != site:
        log.warning("refused: %s signed a request to %s %s", signer, what, site)
        raise web.HTTPForbidden(text=f"signed by {signer}, which may not {what} {site}")


def _name(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value or "/" in value:
        raise web.HTTPBadRequest(text=f"field {key!r} must be a non-empty string without '/'")
    return value


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


def _unavailable(exc: StoreUnavailable) -> web.Response:
    return web.json_response({"reason": str(exc)}, status=503)


async def on_heartbeat(request: web.Request) -> web.Response:
    site = _name(await _json(request), "site")
    _as_signer(request, site, "heartbeat for")
    try:
        await request.app[STORE].heartbeat(site, request.app[TTL], time.time())
    except StoreUnavailable as exc:
        return _unavailable(exc)
    return web.json_response({"ok": True})


async def on_takeover(request: web.Request) -> web.Response:
    body = await _json(request)
    holder, failed = _name(body, "holder"), _name(body, "failed_site")
    if holder == failed:
        raise web.HTTPBadRequest(text="a site cannot take itself over")
    _as_signer(request, holder, "take over as")
    store = request.app[STORE]
    try:
        outcome = await store.txn(takeover_txn(store.keys, holder, failed, time.time()),
                                  f"{holder} asks to take over {failed}")
    except StoreUnavailable as exc:
        log.warning("takeover of %s by %s not decided: %s", failed, holder, exc)
        return _unavailable(exc)
    answer = takeover_answer(store.keys, holder, failed, outcome)
    if isinstance(answer, Grant):
        if outcome.succeeded:
            log.warning("lease %d: %s takes over %s (held until %s releases it at "
                        "failback)", answer.lease.token, holder, failed, holder)
        else:
            log.info("lease %d: %s asked again for %s; same lease", answer.lease.token,
                     holder, failed)
        return web.json_response({"token": answer.lease.token, "holder": holder,
                                  "failed_site": failed})
    log.info("takeover of %s by %s refused: %s", failed, holder, answer.reason)
    return web.json_response({"reason": answer.reason}, status=409)


async def on_release(request: web.Request) -> web.Response:
    body = await _json(request)
    failed = _name(body, "failed_site")
    token = body.get("token")
    if not isinstance(token, int) or isinstance(token, bool):
        raise web.HTTPBadRequest(text="field 'token' must be an integer")
    store = request.app[STORE]
    try:
        if request.app[KEYS].keys is not None:
            # Only the holder releases: the lease with this token names it (the txn
            # below deletes only that same lease).
            lease = next((held for held in await store.leases()
                          if held.failed_site == failed and held.token == token), None)
            if lease is not None:
                _as_signer(request, lease.holder, "release the lease held by")
        outcome = await store.txn(release_txn(store.keys, failed, token),
                                  f"releasing lease {token} on {failed}")
    except StoreUnavailable as exc:
        return _unavailable(exc)
    done = released(store.keys, failed, outcome)
    if outcome.succeeded:
        log.warning("lease %d on %s released: %s may be taken over again", token, failed,
                    failed)
    elif not done:
        log.info("release of %s with token %d ignored: a newer lease holds it", failed, token)
    return web.json_response({"released": done})


async def on_leases(request: web.Request) -> web.Response:
    try:
        leases = await request.app[STORE].leases()
    except StoreUnavailable as exc:
        return _unavailable(exc)
    return web.json_response({lease.failed_site: asdict(lease) for lease in leases})


async def on_health(request: web.Request) -> web.Response:
    store = request.app[STORE]
    try:
        revision = await store.revision()
    except StoreUnavailable as exc:
        return web.json_response({"ok": False, "reason": str(exc)}, status=503)
    return web.json_response({"ok": True, "etcd": store.where, "revision": revision})


def make_app(endpoints: list[Endpoint], *, peer_timeout_s: float, prefix: str,
             site_keys: Mapping[str, bytes] | None,
             etcd_timeout_s: float = 1.0) -> web.Application:
    """The witness's app. Nothing is contacted yet: the etcd client connects on the
    first request, inside the app's loop. ``site_keys`` (site → key) sign every POST;
    None accepts unsigned requests (``--insecure-unsigned`` only)."""
    keys = Keys(prefix)
    ttl = heartbeat_ttl(peer_timeout_s)  # refused here, before serving, if unusable
    store = EtcdStore(endpoints, keys, timeout_s=etcd_timeout_s)
    app = web.Application(middlewares=[signed])
    app[STORE], app[TTL], app[KEYS] = store, ttl, SiteKeys(site_keys)

    async def close_store(app: web.Application) -> None:
        await app[STORE].close()

    async def announce(_app: web.Application) -> None:
        log.info("witness on etcd %s, keys under %s; a site counts as alive for %d s "
                 "after its heartbeat; %s", store.where, keys.prefix, ttl,
                 f"requests signed by {', '.join(sorted(site_keys))}"
                 if site_keys is not None else
                 "UNSIGNED requests accepted (--insecure-unsigned): anyone who reaches "
                 "this port can take a site over")

    app.on_startup.append(announce)
    app.on_cleanup.append(close_store)
    app.add_routes([web.post("/heartbeat", on_heartbeat), web.post("/takeover", on_takeover),
                    web.post("/release", on_release), web.get("/leases", on_leases),
                    web.get("/healthz", on_health)])
    return app
