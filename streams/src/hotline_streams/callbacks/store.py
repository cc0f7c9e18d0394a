"""Callbacks in Cassandra: one row per open callback, changed only by compare-and-set.

Every change is a lightweight transaction ``IF version = <read version>`` at SERIAL
consistency (Paxos across both datacenters), so two schedulers — in one site or in
two sites that both believe they own a callback — can never both claim the same
attempt. Under contention Paxos may end without telling the proposer whether its
value was chosen (a write timeout or "CAS operation result is unknown", 0x1700); a
SERIAL read then settles it by the write's own id.

Open callbacks live in ``callbacks`` (partition per tenant, so a scheduler reads one
partition per tenant); terminal ones move to ``callbacks_closed`` (kept 30 days for
audit and so that a replayed request is not taken for a new one).

``callback_figures`` holds the per-site, per-queue, per-interval counters the SLA
topic's callback figures are made of; only the winner of a compare-and-set counts.
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

from hotline_streams.callbacks.models import Callback, Status
from hotline_streams.frozen import replace

log = logging.getLogger("hotline_streams.callbacks")

CAS_RESULT_UNKNOWN = 0x1700
SETTLE_ATTEMPTS = 20
CLOSED_TTL_S = 30 * 86400

_COLUMNS: dict[str, str] = {
    "tenant": "text", "callback_id": "text", "queue": "text", "call_id": "text",
    "caller_token": "text", "caller_number": "text", "reason": "text", "priority": "int",
    "original_enqueued_at": "double", "requested_at": "double", "window_start": "double",
    "window_end": "double", "owner_site": "text", "status": "text", "attempt": "int",
    "due_at": "double", "claim_id": "text", "claim_owner": "text", "claim_expires": "double",
    "outcome": "text", "connected_at": "double", "agent_id": "text", "version": "int",
}
_FIELDS = [f.name for f in fields(Callback)]
FIGURES = ("requested", "dialled", "connected", "failed", "cancelled", "recovered_abandons",
           "connect_ms")
assert set(_FIELDS) == set(_COLUMNS), "Callback and the table's columns differ"


class StoreError(RuntimeError):
    pass


def schema(keyspace: str, replication: Mapping[str, int]) -> list[str]:
    """CQL that creates the keyspace (one replica set per site's datacenter) and tables."""
    dcs = ", ".join(f"'{dc}': {n}" for dc, n in sorted(replication.items()))
    cols = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS.items())
    extra = ", write_id text"
    return [
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        f"{{'class': 'NetworkTopologyStrategy', {dcs}}}",
        f"CREATE TABLE IF NOT EXISTS {keyspace}.callbacks ({cols}{extra}, "
        "PRIMARY KEY ((tenant), callback_id))",
        f"CREATE TABLE IF NOT EXISTS {keyspace}.callbacks_closed ({cols}{extra}, "
        f"PRIMARY KEY ((tenant), callback_id)) WITH default_time_to_live = {CLOSED_TTL_S}",
        # Counters: one partition per tenant and site, intervals in time order.
        f"CREATE TABLE IF NOT EXISTS {keyspace}.callback_figures (tenant text, site text, "
        "interval_start double, queue text, interval_seconds int, "
        + ", ".join(f"{name} counter" for name in FIGURES)
        + ", PRIMARY KEY ((tenant, site), interval_start, queue, interval_seconds))",
    ]


def ensure_schema(session: Session, keyspace: str, replication: Mapping[str, int]) -> None:
    for cql in schema(keyspace, replication):
        session.execute(SimpleStatement(cql, consistency_level=ConsistencyLevel.ALL),
                        timeout=120)
    # Columns added since a keyspace was made (e.g. agent_id for agent-first previews).
    for table in ("callbacks", "callbacks_closed"):
        present = {row.column_name for row in session.execute(
            "SELECT column_name FROM system_schema.columns WHERE keyspace_name = %s "
            "AND table_name = %s", (keyspace, table))}
        for name, kind in _COLUMNS.items():
            if name not in present:
                session.execute(SimpleStatement(
                    f"ALTER TABLE {keyspace}.{table} ADD {name} {kind}",
                    consistency_level=ConsistencyLevel.ALL), timeout=120)


def _from_row(row: Any) -> Callback:
    values = {name: getattr(row, name) for name in _FIELDS}
    values["status"] = Status(values["status"])
    for name in ("due_at", "claim_expires"):
        values[name] = values[name] or 0.0
    values["attempt"] = values["attempt"] or 0
    values["version"] = values["version"] or 0
    return Callback(**values)


class CallbackStore:
    """Reads at LOCAL_QUORUM (this site's datacenter), changes by SERIAL compare-and-set."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self.session = session
        self.keyspace = keyspace
        names = ", ".join(_FIELDS)
        marks = ", ".join("?" for _ in _FIELDS)
        ks = keyspace
        self._insert = session.prepare(
            f"INSERT INTO {ks}.callbacks ({names}, write_id) VALUES ({marks}, ?) "
            "IF NOT EXISTS")
        self._insert.serial_consistency_level = ConsistencyLevel.SERIAL
        self._insert.consistency_level = ConsistencyLevel.LOCAL_QUORUM
        self._get = session.prepare(
            f"SELECT {names}, write_id FROM {ks}.callbacks WHERE tenant = ? AND callback_id = ?")
        self._get_closed = session.prepare(
            f"SELECT {names}, write_id FROM {ks}.callbacks_closed "
            "WHERE tenant = ? AND callback_id = ?")
        self._open = session.prepare(f"SELECT {names}, write_id FROM {ks}.callbacks "
                                     "WHERE tenant = ?")
        self._tenants = session.prepare(f"SELECT DISTINCT tenant FROM {ks}.callbacks")
        self._archive = session.prepare(
            f"INSERT INTO {ks}.callbacks_closed ({names}, write_id) VALUES ({marks}, ?)")
        self._delete = session.prepare(
            f"DELETE FROM {ks}.callbacks WHERE tenant = ? AND callback_id = ? IF version = ?")
        self._delete.serial_consistency_level = ConsistencyLevel.SERIAL
        for stmt in (self._get, self._get_closed, self._open, self._tenants, self._archive,
                     self._delete):
            stmt.consistency_level = ConsistencyLevel.LOCAL_QUORUM
        self._updates: dict[tuple[str, ...], Any] = {}
        self._counts: dict[tuple[str, ...], Any] = {}
        self._figure_reads: tuple[Any, Any] | None = None

    # -- reads -------------------------------------------------------------------------

    def get(self, tenant: str, callback_id: str, *, serial: bool = False) -> Callback | None:
        """The open callback, or the closed one, or None. ``serial`` reads the latest
        Paxos-committed value, as a settle does (costly; for settling and tests)."""
        row = (self._settle(tenant, callback_id) if serial
               else self.session.execute(self._get, (tenant, callback_id)).one())
        if row is None:
            row = self.session.execute(self._get_closed, (tenant, callback_id)).one()
        return None if row is None else _from_row(row)

    def open_callbacks(self, tenant: str) -> list[Callback]:
        return [_from_row(row) for row in self.session.execute(self._open, (tenant,))]

    def tenants(self) -> list[str]:
        return [row.tenant for row in self.session.execute(self._tenants)]

    # -- changes -----------------------------------------------------------------------

    def create(self, cb: Callback) -> bool:
        """Persist a new request; False when it exists already (open or closed): a
        replayed request never resurrects a finished callback."""
        if self.session.execute(self._get_closed, (cb.tenant, cb.callback_id)).one():
            return False
        values = [getattr(cb, name) for name in _FIELDS]
        values[_FIELDS.index("status")] = cb.status.value
        for _attempt in range(SETTLE_ATTEMPTS):
            write_id = uuid.uuid4().hex
            try:
                return bool(self.session.execute(self._insert, (*values, write_id)).was_applied)
            except (WriteTimeout, ErrorMessage) as exc:
                _reraise_unless_unknown(exc)
            settled = self._settle(cb.tenant, cb.callback_id)
            if settled is not None:
                return bool(settled.write_id == write_id)
            # Not written after all (the proposal was never accepted): insert again.
        raise StoreError(f"callback {cb.callback_id} (tenant {cb.tenant}): could not be "
                         f"stored after {SETTLE_ATTEMPTS} attempts")

    def change(self, before: Callback, **changes: Any) -> Callback | None:
        """Compare-and-set: apply ``changes`` if the row still has ``before.version``.
        Returns the new callback, or None when another writer changed it first."""
        after = replace(before, **changes, version=before.version + 1)
        names = (*sorted(changes), "version")
        stmt = self._update_statement(names)
        write_id = uuid.uuid4().hex
        values = [_cql_value(getattr(after, name)) for name in names]
        try:
            result = self.session.execute(
                stmt, (*values, write_id, before.tenant, before.callback_id, before.version))
            return after if result.was_applied else None
        except (WriteTimeout, ErrorMessage) as exc:
            _reraise_unless_unknown(exc)
            log.info("callback %s: compare-and-set result unknown under contention; "
                     "settling with a SERIAL read", before.callback_id)
        row = self._settle(before.tenant, before.callback_id)
        return after if row is not None and row.write_id == write_id else None

    def close(self, cb: Callback) -> None:
        """Move a terminal callback to the closed table (archive first, then delete if
        unchanged: a crash in between leaves it in both, and the next close finishes)."""
        if cb.status not in (Status.CONNECTED, Status.CANCELLED):
            raise StoreError(f"callback {cb.callback_id} is {cb.status}, not terminal")
        values = [_cql_value(getattr(cb, name)) for name in _FIELDS]
        self.session.execute(self._archive, (*values, uuid.uuid4().hex))
        try:
            self.session.execute(self._delete, (cb.tenant, cb.callback_id, cb.version))
        except (WriteTimeout, ErrorMessage) as exc:
            _reraise_unless_unknown(exc)  # the archive is written; a later close retries

    # -- figures -----------------------------------------------------------------------

    def count(self, tenant: str, site: str, queue: str, interval_start: float,
              interval_seconds: int, increments: Mapping[str, int]) -> None:
        """Add to the interval's counters (a counter update: not idempotent, so called
        once, by the scheduler whose compare-and-set made the change)."""
        names = tuple(sorted(increments))
        stmt = self._counts.get(names)
        if stmt is None:
            sets = ", ".join(f"{name} = {name} + ?" for name in names)
            stmt = self.session.prepare(
                f"UPDATE {self.keyspace}.callback_figures SET {sets} WHERE tenant = ? "
                "AND site = ? AND interval_start = ? AND queue = ? AND interval_seconds = ?")
            stmt.consistency_level = ConsistencyLevel.LOCAL_QUORUM
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
            partitions = self.session.prepare(
                f"SELECT DISTINCT tenant, site FROM {ks}.callback_figures")
            rows = self.session.prepare(
                f"SELECT queue, interval_start, interval_seconds, {', '.join(FIGURES)} "
                f"FROM {ks}.callback_figures WHERE tenant = ? AND site = ? "
                "AND interval_start >= ?")
            for stmt in (partitions, rows):
                stmt.consistency_level = ConsistencyLevel.LOCAL_QUORUM
            self._figure_reads = (partitions, rows)
        return self._figure_reads

    # -- helpers -----------------------------------------------------------------------

    def _update_statement(self, names: tuple[str, ...]) -> Any:
        stmt = self._updates.get(names)
        if stmt is None:
            sets = ", ".join(f"{name} = ?" for name in names)
            stmt = self.session.prepare(
                f"UPDATE {self.keyspace}.callbacks SET {sets}, write_id = ? "
                "WHERE tenant = ? AND callback_id = ? IF version = ?")
            stmt.consistency_level = ConsistencyLevel.LOCAL_QUORUM
            stmt.serial_consistency_level = ConsistencyLevel.SERIAL
            self._updates[names] = stmt
        return stmt

    def _settle(self, tenant: str, callback_id: str) -> Any:
        """The Paxos-committed row. A SERIAL read completes any proposal in progress, so
        under the same contention it may itself end "unknown": it is retried."""
        delay = 0.05
        for _attempt in range(SETTLE_ATTEMPTS):
            try:
                return self.session.execute(
                    self._serial(self._get.bind((tenant, callback_id)))).one()
            except (WriteTimeout, ReadTimeout, ErrorMessage) as exc:
                _reraise_unless_unknown(exc)
                time.sleep(delay * (1 + random.random()))  # back off from the other proposer
                delay = min(delay * 2, 1.0)
        raise StoreError(f"callback {callback_id} (tenant {tenant}): the result of a "
                         f"compare-and-set stayed unknown after {SETTLE_ATTEMPTS} SERIAL reads")

    @staticmethod
    def _serial(bound: Any) -> Any:
        bound.consistency_level = ConsistencyLevel.SERIAL
        return bound


def _cql_value(value: Any) -> Any:
    return value.value if isinstance(value, Status) else value


def _reraise_unless_unknown(exc: Exception) -> None:
    if isinstance(exc, ErrorMessage) and exc.code != CAS_RESULT_UNKNOWN:
        raise exc
