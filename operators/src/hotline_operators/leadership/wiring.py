"""Leader election around kopf: the operator starts its handlers only once it holds
the Lease, and exits at once if it cannot renew it.

kopf's own peering hands over only after 60 s; this Lease hands over after its
duration (5 s by default). A standby blocks in the startup handler, so none of its
handlers, timers or failover daemons run. Exiting hard on a lost Lease (as
client-go's leader election does) guarantees the old leader stops acting before the
standby may start: the pod restarts and becomes the standby.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from aiohttp import web

from hotline_operators.leadership.adapters import LeaseStore
from hotline_operators.leadership.logic import may_acquire, observe, still_leading
from hotline_operators.leadership.models import ElectionSettings, LeaseRecord, Observation

log = logging.getLogger("hotline.operator.leadership")
EXIT_LEASE_LOST = 3

LEASE_ENV = "HOTLINE_OPERATOR_LEASE"
STANDBY_HEALTH_PORT_ENV = "HOTLINE_STANDBY_HEALTH_PORT"


@asynccontextmanager
async def standby_health(port: int | None) -> AsyncIterator[None]:
    """Answer /healthz while standing by: kopf's own liveness endpoint starts only
    after the startup handlers, and a kubelet would otherwise restart the standby.
    Closed before kopf binds the same port."""
    if port is None:
        yield
        return

    async def healthy(_request: web.Request) -> web.Response:
        return web.json_response({"standby": True})

    app = web.Application()
    app.add_routes([web.get("/healthz", healthy)])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


def settings_from_env(env: Mapping[str, str]) -> ElectionSettings | None:
    """None when no Lease is named: a single operator runs without an election."""
    name = env.get(LEASE_ENV)
    if not name:
        return None
    return ElectionSettings(
        lease_name=name,
        namespace=env.get("HOTLINE_OPERATOR_LEASE_NAMESPACE") or env.get("POD_NAMESPACE")
        or "default",
        identity=env.get("HOTLINE_OPERATOR_ID") or f"{socket.gethostname()}-{os.getpid()}",
        duration_s=float(env.get("HOTLINE_OPERATOR_LEASE_SECONDS") or 5),
    )


class Leader:
    def __init__(self, settings: ElectionSettings, store: LeaseStore) -> None:
        self.settings = settings
        self.store = store
        self.record: LeaseRecord | None = None
        self.last_renewed = 0.0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    async def acquire(self) -> None:
        """Wait (as the standby) until this replica holds the Lease."""
        s = self.settings
        seen: Observation | None = None
        announced = False
        while True:
            try:
                record = await asyncio.to_thread(self.store.read)
                seen = observe(seen, record, time.monotonic())
                sent = time.monotonic()
                free = may_acquire(seen, s.identity, sent)
                claimed = await asyncio.to_thread(self.store.claim, record) if free else None
            except Exception as exc:  # API server away: stay standby, try again
                log.warning("%s cannot read or claim lease %s/%s: %s; retrying as the "
                            "standby", s.identity, s.namespace, s.lease_name, exc)
                await asyncio.sleep(s.renew_every_s)
                continue
            if claimed is not None:
                self.record, self.last_renewed = claimed, sent
                log.warning("%s now holds lease %s/%s (transition %d): starting the "
                            "handlers", s.identity, s.namespace, s.lease_name,
                            claimed.transitions)
                return
            if not free and not announced:
                announced = True
                log.info("%s is the standby: %s holds lease %s/%s; taking over if it is "
                         "not renewed for %.0fs", s.identity,
                         record.holder if record else None, s.namespace, s.lease_name,
                         s.duration_s)
            await asyncio.sleep(s.renew_every_s)  # the Lease's own renewal cadence

    def start_renewing(self) -> None:
        self._renewer = threading.Thread(target=self._renew_loop, name="lease-renewer",
                                         daemon=True)
        self._renewer.start()

    def _renew_loop(self) -> None:
        s = self.settings
        while not self._stop.wait(s.renew_every_s):
            sent = time.monotonic()  # the renewal counts from when it was sent
            try:
                renewed = self.store.claim(self.record)
            except Exception as exc:  # API server unreachable: retry until the deadline
                left = s.give_up_after_s - (time.monotonic() - self.last_renewed)
                log.warning("renewing lease %s/%s failed: %s; %.1fs left before this "
                            "replica stops", s.namespace, s.lease_name, exc, left)
                if still_leading(self.last_renewed, time.monotonic(), s.give_up_after_s):
                    continue
                self._lose("could not renew it in time")
                return
            if renewed is None:
                self._lose("another replica wrote it")
                return
            self.record, self.last_renewed = renewed, sent

    def _lose(self, why: str) -> None:
        if self._stop.is_set():
            return
        log.critical("%s lost lease %s/%s (%s): exiting now so that only the new leader "
                     "acts; the pod restarts as the standby", self.settings.identity,
                     self.settings.namespace, self.settings.lease_name, why)
        logging.shutdown()
        os._exit(EXIT_LEASE_LOST)

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self.record is not None:
            try:
                self.store.release(self.record)
                log.info("%s released lease %s/%s", self.settings.identity,
                         self.settings.namespace, self.settings.lease_name)
            except Exception as exc:
                log.warning("releasing the lease failed (%s); the standby takes over "
                            "after %.0fs", exc, self.settings.duration_s)
