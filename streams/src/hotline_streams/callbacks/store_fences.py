"""``site_fences`` (which site took over which, under the witness's token; written by
the adopter at LOCAL_SERIAL in its own datacenter) and ``site_fence_acks`` (the token
a returning site has reconciled with). See ``ownership`` for the rules."""

from __future__ import annotations

import uuid
from typing import Any

from cassandra import ConsistencyLevel, WriteTimeout
from cassandra.protocol import ErrorMessage

from hotline_streams.callbacks.models import Fence
from hotline_streams.callbacks.tables import EVERYWHERE, LOCAL, Tables, reraise_unless_unknown


def fence_schema(ks: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {ks}.site_fences (site text PRIMARY KEY, "
        "adopted_by text, fencing_token bigint, started_at double, completed_at double, "
        "write_id text)",
        f"CREATE TABLE IF NOT EXISTS {ks}.site_fence_acks (site text PRIMARY KEY, "
        "fencing_token bigint, acknowledged_at double)",
    ]


def _fence(row: Any) -> Fence | None:
    if row is None or row.fencing_token is None:
        return None
    return Fence(site=row.site, adopted_by=row.adopted_by, fencing_token=row.fencing_token,
                 started_at=row.started_at or 0.0, completed_at=row.completed_at)


class FenceTables(Tables):
    def _prepare_fences(self) -> None:
        ks, prepare = self.keyspace, self._prepare
        columns = "site, adopted_by, fencing_token, started_at, completed_at, write_id"
        self._fence = prepare(f"SELECT {columns} FROM {ks}.site_fences WHERE site = ?")
        self._fences = prepare(f"SELECT {columns} FROM {ks}.site_fences")
        self._fence_new = prepare(f"INSERT INTO {ks}.site_fences (site, adopted_by, "
                                  "fencing_token, started_at, write_id) VALUES (?, ?, ?, ?, ?) "
                                  "IF NOT EXISTS")
        self._fence_take = prepare(f"UPDATE {ks}.site_fences SET adopted_by = ?, "
                                   "fencing_token = ?, started_at = ?, completed_at = null, "
                                   "write_id = ? WHERE site = ? IF fencing_token = ?")
        self._fence_done = prepare(f"UPDATE {ks}.site_fences SET completed_at = ?, "
                                   "write_id = ? WHERE site = ? IF fencing_token = ?")
        self._ack_get = prepare(f"SELECT fencing_token FROM {ks}.site_fence_acks WHERE site = ?")
        self._ack_put = prepare(f"INSERT INTO {ks}.site_fence_acks (site, fencing_token, "
                                "acknowledged_at) VALUES (?, ?, ?)")

    def fence(self, site: str, *, everywhere: bool = False,
              serial: bool = False) -> Fence | None:
        """The fence recorded on ``site``: at LOCAL_QUORUM, EACH_QUORUM (``everywhere``:
        what a returning site reconciles with) or LOCAL_SERIAL (to compare-and-set)."""
        consistency = (ConsistencyLevel.LOCAL_SERIAL if serial
                       else EVERYWHERE if everywhere else LOCAL)
        return _fence(self._run(self._fence, (site,), consistency).one())

    def fences(self) -> list[Fence]:
        """Every fence this datacenter knows (a handful of rows: one per site)."""
        return [f for f in (_fence(row) for row in self.session.execute(self._fences))
                if f is not None]

    def take_fence(self, site: str, adopter: str, token: int, now: float,
                   current: Fence | None) -> bool:
        """Record ``adopter``'s takeover of ``site`` under ``token`` if the fence is still
        ``current`` (compare-and-set at LOCAL_SERIAL in the adopter's datacenter)."""
        write_id = uuid.uuid4().hex
        try:
            if current is None:
                result = self.session.execute(self._fence_new,
                                              (site, adopter, token, now, write_id))
            else:
                result = self.session.execute(self._fence_take, (
                    adopter, token, now, write_id, site, current.fencing_token))
            return bool(result.was_applied)
        except (WriteTimeout, ErrorMessage) as exc:
            reraise_unless_unknown(exc)
        row = self._run(self._fence, (site,), ConsistencyLevel.LOCAL_SERIAL).one()
        return row is not None and row.write_id == write_id

    def complete_fence(self, site: str, token: int, now: float) -> bool:
        """Mark the adoption under ``token`` complete; False if another token holds the
        fence now (a newer takeover)."""
        write_id = uuid.uuid4().hex
        try:
            return bool(self.session.execute(self._fence_done,
                                             (now, write_id, site, token)).was_applied)
        except (WriteTimeout, ErrorMessage) as exc:
            reraise_unless_unknown(exc)
        row = self._run(self._fence, (site,), ConsistencyLevel.LOCAL_SERIAL).one()
        return row is not None and row.write_id == write_id

    def acknowledged(self, site: str) -> int:
        """The highest fencing token ``site`` has reconciled with (0: none)."""
        row = self.session.execute(self._ack_get, (site,)).one()
        return int(row.fencing_token or 0) if row is not None else 0

    def acknowledge(self, site: str, token: int, now: float) -> None:
        self.session.execute(self._ack_put, (site, token, now))
