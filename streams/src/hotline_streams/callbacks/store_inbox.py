"""The tables that keep work from being lost between Kafka and the callbacks:
``caller_identities`` and ``callback_inbox`` (a caller's number and a callback request,
joined whichever comes first; see ``intake``) and ``parked_events`` (events that
could not be handled yet, retried by the tick; see ``runner``). Plain writes, no
Paxos: they are idempotent, and they must work when a compare-and-set does not."""

from __future__ import annotations

from dataclasses import dataclass

from hotline_events.envelope import decode_body, encode_body
from hotline_events.models.callbacks import CallbackRequested
from hotline_streams.callbacks.tables import Tables

IDENTITY_TTL_S = 2 * 86400  # the identity topic keeps a day; a request may come late
INBOX_TTL_S = 7 * 86400  # a request whose number never comes (logged while it waits)
PARKED_TTL_S = 14 * 86400  # as long as a dead-letter topic keeps a record
# Every request leaves a tombstone in its (tenant, site) partition, which the tick reads:
# purged after 6 h (past the 3 h hint window) instead of 10 days. A request brought back
# by a late repair only meets its callback again (insert-if-absent: nothing twice).
INBOX_GC_GRACE_S = 6 * 3600


@dataclass(frozen=True)
class Parked:
    """An event that could not be handled yet, as it was read from Kafka."""

    event_id: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    reason: str
    attempts: int
    parked_at: float
    next_at: float


def inbox_schema(ks: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {ks}.caller_identities (tenant text, call_id text, "
        "caller_number text, caller_token text, PRIMARY KEY ((tenant, call_id))) "
        f"WITH default_time_to_live = {IDENTITY_TTL_S}",
        f"CREATE TABLE IF NOT EXISTS {ks}.callback_inbox (tenant text, site text, "
        "call_id text, callback_id text, request blob, stored_at double, "
        f"PRIMARY KEY ((tenant, site), call_id, callback_id)) "
        f"WITH default_time_to_live = {INBOX_TTL_S} AND gc_grace_seconds = {INBOX_GC_GRACE_S}",
        f"CREATE TABLE IF NOT EXISTS {ks}.parked_events (site text, event_id text, "
        "topic text, part int, record_offset bigint, record_key blob, body blob, "
        "headers map<text, text>, reason text, attempts int, parked_at double, "
        "next_at double, PRIMARY KEY ((site), event_id)) "
        f"WITH default_time_to_live = {PARKED_TTL_S}",
    ]


def _request(body: bytes) -> CallbackRequested:
    data = decode_body(CallbackRequested.TYPE, body)
    assert isinstance(data, CallbackRequested)
    return data


class InboxTables(Tables):
    def _prepare_inbox(self) -> None:
        ks, prepare = self.keyspace, self._prepare
        self._identity_put = prepare(f"INSERT INTO {ks}.caller_identities (tenant, call_id, "
                                     "caller_number, caller_token) VALUES (?, ?, ?, ?)")
        self._identity_get = prepare(f"SELECT caller_number, caller_token FROM "
                                     f"{ks}.caller_identities WHERE tenant = ? AND call_id = ?")
        self._inbox_put = prepare(f"INSERT INTO {ks}.callback_inbox (tenant, site, call_id, "
                                  "callback_id, request, stored_at) VALUES (?, ?, ?, ?, ?, ?)")
        self._inbox_call = prepare(f"SELECT request, stored_at FROM {ks}.callback_inbox "
                                   "WHERE tenant = ? AND site = ? AND call_id = ?")
        self._inbox_all = prepare(f"SELECT request, stored_at FROM {ks}.callback_inbox "
                                  "WHERE tenant = ? AND site = ?")
        self._inbox_partitions = prepare(f"SELECT DISTINCT tenant, site FROM {ks}.callback_inbox")
        self._inbox_drop = prepare(f"DELETE FROM {ks}.callback_inbox WHERE tenant = ? AND "
                                   "site = ? AND call_id = ? AND callback_id = ?")
        self._park = prepare(f"INSERT INTO {ks}.parked_events (site, event_id, topic, part, "
                             "record_offset, record_key, body, headers, reason, attempts, "
                             "parked_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        self._parked = prepare(f"SELECT event_id, topic, part, record_offset, record_key, body, "
                               f"headers, reason, attempts, parked_at, next_at FROM "
                               f"{ks}.parked_events WHERE site = ?")
        self._park_retry = prepare(f"UPDATE {ks}.parked_events SET attempts = ?, reason = ?, "
                                   "next_at = ? WHERE site = ? AND event_id = ?")
        self._unpark = prepare(f"DELETE FROM {ks}.parked_events WHERE site = ? AND event_id = ?")

    # -- the durable join of a caller's number and a callback request -------------------

    def put_identity(self, tenant: str, call_id: str, number: str, token: str) -> None:
        self.session.execute(self._identity_put, (tenant, call_id, number, token))

    def identity(self, tenant: str, call_id: str) -> tuple[str, str] | None:
        """The caller's (number, token) of a call, if their identity has arrived."""
        row = self.session.execute(self._identity_get, (tenant, call_id)).one()
        return None if row is None else (row.caller_number, row.caller_token)

    def put_request(self, request: CallbackRequested, now: float) -> None:
        self.session.execute(self._inbox_put, (request.tenant, self.site, request.call_id,
                                               request.callback_id, encode_body(request), now))

    def requests_for(self, tenant: str, call_id: str) -> list[CallbackRequested]:
        return [_request(row.request) for row in
                self.session.execute(self._inbox_call, (tenant, self.site, call_id))]

    def inbox(self) -> list[tuple[CallbackRequested, float]]:
        """Every request of this site still waiting in the inbox, with when it came."""
        out: list[tuple[CallbackRequested, float]] = []
        for part in self.session.execute(self._inbox_partitions):
            if part.site == self.site:
                out += [(_request(row.request), row.stored_at or 0.0) for row in
                        self.session.execute(self._inbox_all, (part.tenant, self.site))]
        return out

    def drop_request(self, request: CallbackRequested) -> None:
        self.session.execute(self._inbox_drop, (request.tenant, self.site, request.call_id,
                                                request.callback_id))

    # -- parked events -----------------------------------------------------------------

    def park(self, parked: Parked) -> None:
        self.session.execute(self._park, (
            self.site, parked.event_id, parked.topic, parked.partition, parked.offset,
            parked.key, parked.value, parked.headers, parked.reason, parked.attempts,
            parked.parked_at, parked.next_at))

    def parked(self) -> list[Parked]:
        return sorted((Parked(event_id=row.event_id, topic=row.topic, partition=row.part,
                              offset=row.record_offset, key=row.record_key, value=row.body,
                              headers=dict(row.headers or {}), reason=row.reason or "",
                              attempts=row.attempts or 0, parked_at=row.parked_at or 0.0,
                              next_at=row.next_at or 0.0)
                       for row in self.session.execute(self._parked, (self.site,))),
                      key=lambda p: (p.parked_at, p.event_id))

    def retry_later(self, parked: Parked, reason: str, next_at: float) -> None:
        self.session.execute(self._park_retry, (parked.attempts + 1, reason, next_at,
                                                self.site, parked.event_id))

    def unpark(self, parked: Parked) -> None:
        self.session.execute(self._unpark, (self.site, parked.event_id))
