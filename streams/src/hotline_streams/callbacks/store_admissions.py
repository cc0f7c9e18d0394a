"""``callback_admissions``: the callbacks admitted in the last hour, for the rate limits
of the destination policy (``destinations``). In Cassandra, not in memory, so a
restarted or second scheduler counts what the others admitted.

One partition per (tenant, hour of the scheduler's clock), a row per callback: a
replayed request writes the same row again, and an hour's partition is small (at most
the tenant's hourly limit). The number is stored as a per-tenant digest, never in
clear. Rows expire after two hours.

Counting is read-then-write without Paxos: schedulers admitting at the same moment
may each pass the last free slot, so a limit can be exceeded by at most one per
running scheduler (and, across sites, by what replication has not brought yet).
Bounding toll exposure needs an order of magnitude, not an exact count.
"""

from __future__ import annotations

from typing import Any

from hotline_streams.callbacks.tables import Tables

ADMISSION_TTL_S = 2 * 3600
HOUR_S = 3600


def admission_schema(ks: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {ks}.callback_admissions (tenant text, hour bigint, "
        "callback_id text, number_key text, admitted_at double, "
        f"PRIMARY KEY ((tenant, hour), callback_id)) "
        f"WITH default_time_to_live = {ADMISSION_TTL_S}",
    ]


class AdmissionTables(Tables):
    _admission_statements: tuple[Any, Any] | None = None

    def admit(self, tenant: str, callback_id: str, number_key: str, at: float) -> None:
        """Count a callback as admitted at ``at`` (idempotent within the hour)."""
        self.session.execute(self._admissions()[0],
                             (tenant, int(at // HOUR_S), callback_id, number_key, at))

    def recent_admissions(self, tenant: str, number_key: str, now: float, *,
                          excluding: str = "") -> tuple[int, int]:
        """Callbacks admitted in the hour before ``now``: (to this number, for the
        tenant), not counting ``excluding`` (a replayed request's own earlier row)."""
        since = now - HOUR_S
        per_number = per_tenant = 0
        for hour in range(int(since // HOUR_S), int(now // HOUR_S) + 1):
            for row in self.session.execute(self._admissions()[1], (tenant, hour)):
                if row.callback_id == excluding or not since <= row.admitted_at <= now:
                    continue
                per_tenant += 1
                per_number += row.number_key == number_key
        return per_number, per_tenant

    def _admissions(self) -> tuple[Any, Any]:
        # Prepared on first use: a keyspace made before this table fails here, with
        # Cassandra naming the table (run `python -m hotline_streams.callbacks schema`).
        if self._admission_statements is None:
            ks = self.keyspace
            self._admission_statements = (
                self._prepare(f"INSERT INTO {ks}.callback_admissions (tenant, hour, "
                              "callback_id, number_key, admitted_at) VALUES (?, ?, ?, ?, ?)"),
                self._prepare(f"SELECT callback_id, number_key, admitted_at FROM "
                              f"{ks}.callback_admissions WHERE tenant = ? AND hour = ?"))
        return self._admission_statements
