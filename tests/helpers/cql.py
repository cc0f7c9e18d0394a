"""Cassandra sessions pinned to one datacenter, as a site's services use them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy

from devstack.cassandra import CassandraNode


def local_session(node: CassandraNode, consistency: int) -> tuple[Cluster, Session]:
    """A session whose coordinators are all in ``node``'s datacenter."""
    profile = ExecutionProfile(
        load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=node.datacenter),
        consistency_level=consistency,
        request_timeout=30,
    )
    cluster = Cluster([node.address], port=node.port, protocol_version=5,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    return cluster, cluster.connect()


@contextmanager
def sessions_per_datacenter(nodes: dict[str, CassandraNode]) -> Iterator[dict[str, Session]]:
    """One LOCAL_QUORUM session per datacenter (dc → session), shut down afterwards."""
    opened = {dc: local_session(node, ConsistencyLevel.LOCAL_QUORUM) for dc, node in nodes.items()}
    try:
        yield {dc: session for dc, (_cluster, session) in opened.items()}
    finally:
        for cluster, _session in opened.values():
            cluster.shutdown()
