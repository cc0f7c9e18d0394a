"""The callback scheduler tests' shared parts: a clock they move, a fresh store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from cassandra import ConsistencyLevel

from devstack.cassandra import CassandraNode
from helpers.cql import local_session
from hotline_streams.callbacks.store import CallbackStore, ensure_schema


class Clock:
    """The scheduler's ``now``: a test sets it to cross windows, backoffs, quiet hours."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextmanager
def callback_store(node: CassandraNode) -> Iterator[CallbackStore]:
    """A store on a keyspace of its own on ``node``'s datacenter (LOCAL_QUORUM)."""
    cluster, session = local_session(node, ConsistencyLevel.LOCAL_QUORUM)
    keyspace = f"callbacks_{uuid.uuid4().hex[:8]}"
    ensure_schema(session, keyspace, {node.datacenter: 1})
    try:
        yield CallbackStore(session, keyspace)
    finally:
        cluster.shutdown()
