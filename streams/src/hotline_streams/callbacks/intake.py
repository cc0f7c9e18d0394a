"""A callback request joined to its caller's number through Cassandra, not memory.

The number comes on the personal identity topic, the request on the callback topic;
either may come first, and both offsets are committed once each is handled. So each
is written to Cassandra as it arrives (``caller_identities``, ``callback_inbox``:
plain idempotent writes), and the callback is created once both are there, from
whichever arrives second, or by the tick from the inbox (a creation that failed, or
a restart between the two). A request leaves the inbox only after its callback is
stored, so a kill at any step loses nothing and a replay creates nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.identity import CallerIdentified
from hotline_streams.callbacks.store import CallbackStore

log = logging.getLogger("hotline_streams.callbacks")

WAITING_WARN_S = 120.0  # a request still without a number after this is logged


class Intake:
    def __init__(self, store: CallbackStore, clock: Callable[[], float],
                 create: Callable[[CallbackRequested, str], object],
                 crash_point: Callable[[str], None]) -> None:
        self.store = store
        self.clock = clock
        self.create = create
        self.crash_point = crash_point
        self._warned: set[str] = set()

    def identified(self, data: CallerIdentified) -> None:
        self.store.put_identity(data.tenant, data.call_id, data.caller_number,
                                data.caller_token)
        self.crash_point("identity-stored")
        for request in self.store.requests_for(data.tenant, data.call_id):
            self._join(request, data.caller_number)

    def requested(self, data: CallbackRequested) -> None:
        self.store.put_request(data, self.clock())
        self.crash_point("request-stored")
        identity = self.store.identity(data.tenant, data.call_id)
        if identity is None:
            log.info("callback %s (call %s, tenant %s) waits for the caller's number on the "
                     "identity topic; kept in the inbox", data.callback_id, data.call_id,
                     data.tenant)
            return
        self._join(data, identity[0])

    def drain(self, each: Callable[[str, Callable[[], None]], None]) -> int:
        """Create the callbacks of inbox requests whose number has arrived (each through
        ``each(what, step)``, which retries and isolates failures); returns how many
        requests are still waiting for a number."""
        waiting = 0
        now = self.clock()
        for request, stored_at in self.store.inbox():
            identity = self.store.identity(request.tenant, request.call_id)
            if identity is None:
                waiting += 1
                if now - stored_at > WAITING_WARN_S and request.callback_id not in self._warned:
                    self._warned.add(request.callback_id)
                    log.warning("callback %s (call %s, tenant %s) has waited %.0f s for the "
                                "caller's number (withheld?); it is created when the number "
                                "arrives", request.callback_id, request.call_id, request.tenant,
                                now - stored_at)
                continue
            number = identity[0]
            each(f"callback {request.callback_id} (tenant {request.tenant}): creating it "
                 "from the inbox", lambda r=request, n=number: self._join(r, n))  # type: ignore[misc]
        return waiting

    def _join(self, request: CallbackRequested, number: str) -> None:
        self.create(request, number)
        self.crash_point("created")
        self.store.drop_request(request)
