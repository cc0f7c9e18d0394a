"""What every table of the callbacks keyspace is reached through: the session, this
site, the consistency levels, and how an unknown compare-and-set result is told
apart from a failure."""

from __future__ import annotations

from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import Session
from cassandra.protocol import ErrorMessage

CAS_RESULT_UNKNOWN = 0x1700
LOCAL, EVERYWHERE = ConsistencyLevel.LOCAL_QUORUM, ConsistencyLevel.EACH_QUORUM


class StoreError(RuntimeError):
    pass


class Tables:
    """Reads and plain writes at LOCAL_QUORUM, compare-and-set at LOCAL_SERIAL (this
    site's datacenter); a read may ask for EACH_QUORUM or LOCAL_SERIAL instead."""

    def __init__(self, session: Session, keyspace: str, site: str) -> None:
        self.session = session
        self.keyspace = keyspace
        self.site = site

    def _prepare(self, cql: str) -> Any:
        stmt = self.session.prepare(cql)
        stmt.consistency_level = LOCAL
        stmt.serial_consistency_level = ConsistencyLevel.LOCAL_SERIAL
        return stmt

    def _run(self, stmt: Any, values: Any, consistency: int = LOCAL) -> Any:
        bound = stmt.bind(values)
        bound.consistency_level = consistency
        return self.session.execute(bound)


def reraise_unless_unknown(exc: Exception) -> None:
    """A write timeout or "CAS result unknown" leaves a compare-and-set's outcome open
    (settled by a serial read); any other server error is a failure."""
    if isinstance(exc, ErrorMessage) and exc.code != CAS_RESULT_UNKNOWN:
        raise exc
