"""Callbacks in Cassandra: I/O only (the decisions are in ``logic`` and ``ownership``).

``site_callbacks`` holds the open callbacks, one partition per (tenant, owner site).
Every change is a compare-and-set ``IF version = <read version>`` at LOCAL_SERIAL:
Paxos among the owner site's own datacenter, which only that site's schedulers use
(``ownership`` explains why that is enough and how adoption moves callbacks between
sites). Under contention Paxos may end without telling the proposer whether its value
was chosen (a write timeout or "CAS operation result is unknown", 0x1700); a
LOCAL_SERIAL read then settles it by the write's own id.

Terminal callbacks move to ``callbacks_closed`` (kept 30 days for audit, and so that a
replayed request is not taken for a new one). ``callback_figures`` holds the per-site
counters of the SLA topic's callback figures. The fences of takeovers are in
``store_fences``; the durable join of a caller's number and a request, and the parked
events, in ``store_inbox``; the rate limits' counts in ``store_admissions``:
``CallbackStore`` reaches all of them.

Reads and plain writes are LOCAL_QUORUM; ``everywhere`` reads are EACH_QUORUM (a
quorum in every datacenter: what a returning site reconciles with).
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from cassandra import ConsistencyLevel, ReadTimeout, WriteTimeout
from cassandra.cluster import Session
from cassandra.protocol import ErrorMessage
from cassandra.query import SimpleStatement

from hotline_streams.callbacks.models import TERMINAL, Callback, Status
from hotline_streams.callbacks.store_admissions import AdmissionTables, admission_schema
from hotline_streams.callbacks.store_fences import FenceTables, fence_schema
from hotline_streams.callbacks.store_inbox import InboxTables, Parked, inbox_schema
from hotline_streams.callbacks.tables import (
    CAS_RESULT_UNKNOWN,
    EVERYWHERE,
    LOCAL,
    StoreError,
    reraise_unless_unknown,
)
from hotline_streams.frozen import replace

log = logging.getLogger("hotline_streams.callbacks")

SETTLE_ATTEMPTS = 20
CLOSED_TTL_S = 30 * 86400
LEGACY_TABLE = "callbacks"  # partitioned by tenant alone, changed at SERIAL (before sites)

_COLUMNS: dict[str, str] = {
    "tenant": "text", "callback_id": "text", "queue": "text", "call_id": "text",
    "caller_token": "text", "caller_number": "text", "reason": "text", "priority": "int",
    "original_enqueued_at": "double", "requested_at": "double", "window_start": "double",
    "window_end": "double", "owner_site": "text", "status": "text", "attempt": "int",
    "due_at": "double", "claim_id": "text", "claim_owner": "text", "claim_expires": "double",
    "outcome": "text", "connected_at": "double", "agent_id": "text", "version": "int",
    "adopted_from": "text", "adopted_by": "text", "adoption_token": "bigint",
}
_FIELDS = [f.name for f in fields(Callback)]
FIGURES = ("requested", "dialled", "connected", "failed", "cancelled", "recovered_abandons",
           "connect_ms")
assert set(_FIELDS) == set(_COLUMNS), "Callback and the table's columns differ"
__all__ = ["CAS_RESULT_UNKNOWN", "CallbackStore", "Parked", "StoreError", "ensure_schema",
           "schema"]


def schema(keyspace: str, replication: Mapping[str, int]) -> list[str]:
    """CQL that creates the keyspace (one replica set per site's datacenter) and tables."""
    dcs = ", ".join(f"'{dc}': {n}" for dc, n in sorted(replication.items()))
    cols = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS.items())
    ks = keyspace
    return [
        f"CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = "
        f"{{'class': 'NetworkTopologyStrategy', {dcs}}}",
        f"CREATE TABLE IF NOT EXISTS {ks}.site_callbacks ({cols}, write_id text, "
        "PRIMARY KEY ((tenant, owner_site), callback_id))",
        f"CREATE TABLE IF NOT EXISTS {ks}.callbacks_closed ({cols}, write_id text, "
        f"PRIMARY KEY ((tenant), callback_id)) WITH default_time_to_live = {CLOSED_TTL_S}",
        # Counters: one partition per tenant and site, intervals in time order.
        f"CREATE TABLE IF NOT EXISTS {ks}.callback_figures (tenant text, site text, "
        "interval_start double, queue text, interval_seconds int, "
        + ", ".join(f"{name} counter" for name in FIGURES)
        + ", PRIMARY KEY ((tenant, site), interval_start, queue, interval_seconds))",
        *fence_schema(ks),
        *inbox_schema(ks),
        *admission_schema(ks),
    ]


def ensure_schema(session: Session, keyspace: str, replication: Mapping[str, int]) -> None:
    for cql in schema(keyspace, replication):
        session.execute(SimpleStatement(cql, consistency_level=ConsistencyLevel.ALL),
                        timeout=120)
    tables = {row.table_name for row in session.execute(
        "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (keyspace,))}
    # Columns added since a keyspace was made (e.g. agent_id for agent-first previews).
    for table in ("site_callbacks", "callbacks_closed", LEGACY_TABLE):
        if table not in tables:
            continue
        present = {row.column_name for row in session.execute(
            "SELECT column_name FROM system_schema.columns WHERE keyspace_name = %s "
            "AND table_name = %s", (keyspace, table))}
        for name, kind in _COLUMNS.items():
            if name not in present:
                session.execute(SimpleStatement(
                    f"ALTER TABLE {keyspace}.{table} ADD {name} {kind}",
                    consistency_level=ConsistencyLevel.ALL), timeout=120)
    if LEGACY_TABLE in tables:
        moved = _migrate_legacy(session, keyspace)
        if moved:
            log.warning("moved %d open callback(s) from %s.%s to their owner sites' "
                        "partitions in %s.site_callbacks", moved, keyspace, LEGACY_TABLE,
                        keyspace)


def _migrate_legacy(session: Session, keyspace: str) -> int:
    """Open callbacks of the table partitioned by tenant alone, moved into their owner
    site's partition (copied if absent, then deleted: a second run moves nothing)."""
    names = ", ".join(_FIELDS)
    insert = session.prepare(
        f"INSERT INTO {keyspace}.site_callbacks ({names}) VALUES "
        f"({', '.join('?' for _ in _FIELDS)}) IF NOT EXISTS")
    insert.serial_consistency_level = ConsistencyLevel.LOCAL_SERIAL
    delete = session.prepare(
        f"DELETE FROM {keyspace}.{LEGACY_TABLE} WHERE tenant = ? AND callback_id = ?")
    moved = 0
    for row in session.execute(f"SELECT {names} FROM {keyspace}.{LEGACY_TABLE}"):
        if row.status is None:
            continue
        cb = _from_row(row)
        session.execute(insert, [_cql_value(getattr(cb, name)) for name in _FIELDS])
        session.execute(delete, (cb.tenant, cb.callback_id))
        moved += 1
    return moved


def _from_row(row: Any) -> Callback:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["status"] = Status(values["status"])
    for name in ("due_at", "claim_expires"):
        values[name] = values[name] or 0.0
    for name in ("attempt", "version", "adoption_token"):
        values[name] = values[name] or 0
    return Callback(**values)


def _callbacks(rows: Any) -> list[Callback]:
    # A row without a status is what an adoption mark leaves of an original its site
    # deleted meanwhile (a plain write creates the cells it sets): not a callback.
    return [_from_row(row) for row in rows if row.status is not None]


class CallbackStore(FenceTables, InboxTables, AdmissionTables):
    """Reads at LOCAL_QUORUM, changes by LOCAL_SERIAL compare-and-set in the partition of
    ``site`` (this scheduler's site) unless a callback names another owner."""

    def __init__(self, session: Session, keyspace: str, *, site: str = "site-a") -> None:
        super().__init__(session, keyspace, site)
        names = ", ".join(_FIELDS)
        marks = ", ".join("?" for _ in _FIELDS)
        ks = keyspace
        prepare = self._prepare
        self._insert = prepare(f"INSERT INTO {ks}.site_callbacks ({names}, write_id) "
                               f"VALUES ({marks}, ?) IF NOT EXISTS")
        self._get = prepare(f"SELECT {names}, write_id FROM {ks}.site_callbacks "
                            "WHERE tenant = ? AND owner_site = ? AND callback_id = ?")
        self._get_closed = prepare(f"SELECT {names}, write_id FROM {ks}.callbacks_closed "
                                   "WHERE tenant = ? AND callback_id = ?")
        self._open = prepare(f"SELECT {names}, write_id FROM {ks}.site_callbacks "
                             "WHERE tenant = ? AND owner_site = ?")
        self._partitions = prepare(f"SELECT DISTINCT tenant, owner_site FROM {ks}.site_callbacks")
        self._archive = prepare(f"INSERT INTO {ks}.callbacks_closed ({names}, write_id) "
                                f"VALUES ({marks}, ?)")
        self._delete = prepare(f"DELETE FROM {ks}.site_callbacks WHERE tenant = ? AND "
                               "owner_site = ? AND callback_id = ? IF version = ?")
        self._mark = prepare(f"UPDATE {ks}.site_callbacks SET adopted_by = ?, "
                             "adoption_token = ? WHERE tenant = ? AND owner_site = ? "
                             "AND callback_id = ?")
        self._prepare_fences()
        self._prepare_inbox()
        self._updates: dict[tuple[str, ...], Any] = {}
        self._counts: dict[tuple[str, ...], Any] = {}
        self._figure_reads: tuple[Any, Any] | None = None

    # -- reads -------------------------------------------------------------------------

    def get(self, tenant: str, callback_id: str, *, site: str | None = None,
            serial: bool = False) -> Callback | None:
        """The open callback in ``site``'s partition (default: this store's site), or
        the closed one, or None. ``serial`` reads the latest Paxos-committed value, as a
        settle does (costly; for settling and tests)."""
        owner = site or self.site
        row = (self._settle(tenant, owner, callback_id) if serial
               else self._run(self._get, (tenant, owner, callback_id)).one())
        if row is None or row.status is None:
            row = self._run(self._get_closed, (tenant, callback_id)).one()
        return None if row is None else _from_row(row)

    def closed(self, tenant: str, callback_id: str, *, everywhere: bool = False) -> Callback | None:
        row = self._run(self._get_closed, (tenant, callback_id),
                        EVERYWHERE if everywhere else LOCAL).one()
        return None if row is None else _from_row(row)

    def open_callbacks(self, tenant: str, site: str | None = None, *,
                       everywhere: bool = False) -> list[Callback]:
        """The open callbacks of ``site``'s partition; ``everywhere`` reads them at
        EACH_QUORUM (what other datacenters wrote is merged in)."""
        return _callbacks(self._run(self._open, (tenant, site or self.site),
                                    EVERYWHERE if everywhere else LOCAL))

    def tenants(self, site: str | None = None) -> list[str]:
        """Tenants with open callbacks owned by ``site`` (default: this store's site)."""
        owner = site or self.site
        return sorted({row.tenant for row in self.session.execute(self._partitions)
                       if row.owner_site == owner})

    # -- changes -----------------------------------------------------------------------

    def create(self, cb: Callback) -> bool:
        """Persist a new callback in its owner's partition; False when it exists already
        (open, or closed: a replayed request never resurrects a finished callback)."""
        if self._run(self._get_closed, (cb.tenant, cb.callback_id)).one():
            return False
        values = [_cql_value(getattr(cb, name)) for name in _FIELDS]
        for _attempt in range(SETTLE_ATTEMPTS):
            write_id = uuid.uuid4().hex
            try:
                return bool(self.session.execute(self._insert, (*values, write_id)).was_applied)
            except (WriteTimeout, ErrorMessage) as exc:
                reraise_unless_unknown(exc)
            settled = self._settle(cb.tenant, cb.owner_site, cb.callback_id)
            if settled is not None:
                return bool(settled.write_id == write_id)
            # Not written after all (the proposal was never accepted): insert again.
        raise StoreError(f"callback {cb.callback_id} (tenant {cb.tenant}, site "
                         f"{cb.owner_site}): could not be stored after {SETTLE_ATTEMPTS} "
                         "attempts")

    def change(self, before: Callback, **changes: Any) -> Callback | None:
        """Compare-and-set: apply ``changes`` if the row still has ``before.version``.
        Returns the new callback, or None when another writer changed it first."""
        after = replace(before, **changes, version=before.version + 1)
        names = (*sorted(changes), "version")
        stmt = self._update_statement(names)
        write_id = uuid.uuid4().hex
        values = [_cql_value(getattr(after, name)) for name in names]
        key = (before.tenant, before.owner_site, before.callback_id)
        try:
            result = self.session.execute(stmt, (*values, write_id, *key, before.version))
            return after if result.was_applied else None
        except (WriteTimeout, ErrorMessage) as exc:
            reraise_unless_unknown(exc)
            log.info("callback %s (site %s): compare-and-set result unknown under "
                     "contention; settling with a LOCAL_SERIAL read", before.callback_id,
                     before.owner_site)
        row = self._settle(*key)
        return after if row is not None and row.write_id == write_id else None

    def close(self, cb: Callback) -> None:
        """Move a terminal callback to the closed table (archive first, then delete if
        unchanged: a crash in between leaves it in both, and the next close finishes)."""
        if cb.status not in TERMINAL:
            raise StoreError(f"callback {cb.callback_id} is {cb.status}, not terminal")
        values = [_cql_value(getattr(cb, name)) for name in _FIELDS]
        self.session.execute(self._archive, (*values, uuid.uuid4().hex))
        self._delete_if(cb)

    def record_refused(self, cb: Callback) -> None:
        """A callback the destination policy refused, straight into the closed table
        (never open, never dialled; a replayed request finds it there)."""
        if cb.status is not Status.CANCELLED:
            raise StoreError(f"callback {cb.callback_id} is {cb.status}, not cancelled")
        values = [_cql_value(getattr(cb, name)) for name in _FIELDS]
        self.session.execute(self._archive, (*values, uuid.uuid4().hex))

    def mark_adopted(self, original: Callback, by: str, token: int) -> None:
        """Mark a failed site's original as taken over (a plain write, not Paxos: the
        adopter never runs Paxos on the failed site's partition)."""
        self.session.execute(self._mark, (by, token, original.tenant, original.owner_site,
                                          original.callback_id))

    def close_adopted(self, original: Callback, closed: Callback) -> None:
        """A returning site's original that the adopter took over: archived as
        ``closed`` unless the adopter's copy already finished (read everywhere: its
        outcome stays the record), then deleted from this site's partition."""
        if self.closed(original.tenant, original.callback_id, everywhere=True) is None:
            values = [_cql_value(getattr(closed, name)) for name in _FIELDS]
            self.session.execute(self._archive, (*values, uuid.uuid4().hex))
        self._delete_if(original)

    def _delete_if(self, cb: Callback) -> None:
        try:
            self.session.execute(self._delete, (cb.tenant, cb.owner_site, cb.callback_id,
                                                cb.version))
        except (WriteTimeout, ErrorMessage) as exc:
            reraise_unless_unknown(exc)  # the archive is written; a later close retries

    # -- figures -----------------------------------------------------------------------

    def count(self, tenant: str, site: str, queue: str, interval_start: float,
              interval_seconds: int, increments: Mapping[str, int]) -> None:
        """Add to the interval's counters (a counter update: not idempotent, so called
        once, by the scheduler whose compare-and-set made the change)."""
        names = tuple(sorted(increments))
        stmt = self._counts.get(names)
        if stmt is None:
            sets = ", ".join(f"{name} = {name} + ?" for name in names)
            stmt = self._prepare(
                f"UPDATE {self.keyspace}.callback_figures SET {sets} WHERE tenant = ? "
                "AND site = ? AND interval_start = ? AND queue = ? AND interval_seconds = ?")
            self._counts[names] = stmt
        self.session.execute(stmt, (*(increments[n] for n in names), tenant, site,
                                    interval_start, queue, interval_seconds))

    def figure_partitions(self) -> list[tuple[str, str]]:
        """Every (tenant, site) that has counted figures."""
        return [(row.tenant, row.site) for row in self.session.execute(self._reads()[0])]

    def figures(self, tenant: str, site: str, since: float) -> list[dict[str, Any]]:
        """Counter rows of intervals starting at or after ``since``: tenant, site, queue,
        interval_start, interval_seconds and the ``FIGURES`` (0 for never counted)."""
        return [{"tenant": tenant, "site": site, "queue": row.queue,
                 "interval_start": row.interval_start,
                 "interval_seconds": row.interval_seconds,
                 **{name: getattr(row, name) or 0 for name in FIGURES}}
                for row in self.session.execute(self._reads()[1], (tenant, site, since))]

    def _reads(self) -> tuple[Any, Any]:
        # Prepared on first use: a keyspace made before the figures existed fails here,
        # with Cassandra naming the missing table, not at start-up.
        if self._figure_reads is None:
            ks = self.keyspace
            partitions = self._prepare(f"SELECT DISTINCT tenant, site FROM {ks}.callback_figures")
            rows = self._prepare(
                f"SELECT queue, interval_start, interval_seconds, {', '.join(FIGURES)} "
                f"FROM {ks}.callback_figures WHERE tenant = ? AND site = ? "
                "AND interval_start >= ?")
            self._figure_reads = (partitions, rows)
        return self._figure_reads

    # -- helpers -----------------------------------------------------------------------

    def _update_statement(self, names: tuple[str, ...]) -> Any:
        stmt = self._updates.get(names)
        if stmt is None:
            sets = ", ".join(f"{name} = ?" for name in names)
            stmt = self._prepare(
                f"UPDATE {self.keyspace}.site_callbacks SET {sets}, write_id = ? "
                "WHERE tenant = ? AND owner_site = ? AND callback_id = ? IF version = ?")
            self._updates[names] = stmt
        return stmt

    def _settle(self, tenant: str, site: str, callback_id: str) -> Any:
        """The Paxos-committed row. A LOCAL_SERIAL read completes any proposal in
        progress, so under the same contention it may itself end "unknown": retried."""
        delay = 0.05
        for _attempt in range(SETTLE_ATTEMPTS):
            try:
                return self._run(self._get, (tenant, site, callback_id),
                                 ConsistencyLevel.LOCAL_SERIAL).one()
            except (WriteTimeout, ReadTimeout, ErrorMessage) as exc:
                reraise_unless_unknown(exc)
                time.sleep(delay * (1 + random.random()))  # back off from the other proposer
                delay = min(delay * 2, 1.0)
        raise StoreError(f"callback {callback_id} (tenant {tenant}, site {site}): the result "
                         f"of a compare-and-set stayed unknown after {SETTLE_ATTEMPTS} "
                         "LOCAL_SERIAL reads")


def _cql_value(value: Any) -> Any:
    return value.value if isinstance(value, Status) else value
