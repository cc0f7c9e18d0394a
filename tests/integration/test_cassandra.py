"""Cassandra across two datacenters: replication, local quorums and LWT claims."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from cassandra import ConsistencyLevel, WriteTimeout
from cassandra.cluster import Session
from cassandra.protocol import ErrorMessage
from cassandra.query import SimpleStatement

from devstack.cassandra import CassandraNode
from helpers.cql import sessions_per_datacenter

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sessions(cassandra_two_dc: dict[str, CassandraNode]) -> Iterator[dict[str, Session]]:
    with sessions_per_datacenter(cassandra_two_dc) as sessions:
        yield sessions


@pytest.fixture(scope="module")
def keyspace(sessions: dict[str, Session]) -> str:
    name = f"devstack_{uuid.uuid4().hex[:8]}"
    sessions["dc-a"].execute(
        f"CREATE KEYSPACE {name} WITH replication = "
        "{'class': 'NetworkTopologyStrategy', 'dc-a': 1, 'dc-b': 1}")
    sessions["dc-a"].execute(
        f"CREATE TABLE {name}.callbacks (id uuid PRIMARY KEY, caller text, owner text)")
    return name


def test_each_session_coordinates_in_its_own_datacenter(sessions: dict[str, Session]) -> None:
    for dc, session in sessions.items():
        row = session.execute("SELECT data_center FROM system.local").one()
        assert row.data_center == dc


def test_a_local_quorum_write_in_dc_a_is_read_in_dc_b(
    sessions: dict[str, Session], keyspace: str,
) -> None:
    callback_id = uuid.uuid4()
    sessions["dc-a"].execute(
        f"INSERT INTO {keyspace}.callbacks (id, caller) VALUES (%s, %s)",
        (callback_id, "tok:5f3a"))
    read = SimpleStatement(f"SELECT caller FROM {keyspace}.callbacks WHERE id = %s",
                           consistency_level=ConsistencyLevel.LOCAL_QUORUM)
    deadline = time.monotonic() + 30
    row = None
    # LOCAL_QUORUM acknowledges in dc-a; the dc-b replica is written asynchronously.
    while row is None and time.monotonic() < deadline:
        row = sessions["dc-b"].execute(read, (callback_id,)).one()
        if row is None:
            time.sleep(0.1)
    assert row is not None, "the row never reached dc-b"
    assert row.caller == "tok:5f3a"


CAS_WRITE_UNKNOWN = 0x1700


def claim(session: Session, keyspace: str, callback_id: uuid.UUID, owner: str) -> bool:
    """Claim a row with a lightweight transaction; True when this owner holds it.

    Under contention Paxos may end without telling the proposer whether its value
    was chosen (write timeout / CAS unknown result); a SERIAL read then settles it.
    """
    insert = SimpleStatement(
        f"INSERT INTO {keyspace}.callbacks (id, owner) VALUES (%s, %s) IF NOT EXISTS",
        serial_consistency_level=ConsistencyLevel.SERIAL)
    try:
        return bool(session.execute(insert, (callback_id, owner)).was_applied)
    except (WriteTimeout, ErrorMessage) as exc:
        if isinstance(exc, ErrorMessage) and exc.code != CAS_WRITE_UNKNOWN:
            raise
    read = SimpleStatement(f"SELECT owner FROM {keyspace}.callbacks WHERE id = %s",
                           consistency_level=ConsistencyLevel.SERIAL)
    row = session.execute(read, (callback_id,)).one()
    return row is not None and row.owner == owner


def test_exactly_one_of_two_concurrent_claims_wins(
    sessions: dict[str, Session], keyspace: str,
) -> None:
    for _round in range(20):
        callback_id = uuid.uuid4()
        start = threading.Barrier(2)
        won: dict[str, bool] = {}
        failures: list[BaseException] = []

        def race(dc: str, callback_id: uuid.UUID = callback_id,
                 start: threading.Barrier = start, won: dict[str, bool] = won,
                 failures: list[BaseException] = failures) -> None:
            start.wait()
            try:
                won[dc] = claim(sessions[dc], keyspace, callback_id, owner=dc)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=race, args=(dc,)) for dc in ("dc-a", "dc-b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert failures == []
        assert sorted(won.values()) == [False, True], won
        winner = next(dc for dc, w in won.items() if w)
        stored = sessions["dc-b"].execute(
            SimpleStatement(f"SELECT owner FROM {keyspace}.callbacks WHERE id = %s",
                            consistency_level=ConsistencyLevel.SERIAL), (callback_id,)).one()
        assert stored.owner == winner
