"""Callbacks that outlive a datacenter, on the real two-DC Cassandra: dc-b's node is
stopped and started again.

With dc-b gone, site-a still stores and dials a new callback (its claims are Paxos in
dc-a alone) and says on /readyz that it goes on alone; site-b's scheduler, whose own
Cassandra is gone, says so and stops on SIGTERM within seconds although it is retrying;
site-a takes over site-b's callbacks under the witness's token (a stale token is
refused) and dials each once. When dc-b is back, site-b's scheduler comes back with
dc-b's stale data, reconciles, and dials none of the callbacks site-a took over, only
the request it got while its Cassandra was away.

The stack is the test session's: dc-b's node is restarted however the test ends, and
the test waits until dc-a sees it again. It is stopped with SIGTERM, not SIGKILL:
devstack runs Cassandra with ``cassandra.unsafesystem`` (schema changes not synced), so
a node killed moments after this test made its keyspace comes back without its tables
and cannot serve them (INCOMPATIBLE_SCHEMA); the scheduler cannot tell the two apart,
it sees a datacenter that stopped answering either way.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cassandra import ConsistencyLevel, OperationTimedOut, ReadTimeout, Unavailable
from cassandra.cluster import Cluster, NoHostAvailable, Session
from cassandra.query import SimpleStatement

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from devstack.process import wait_for, wait_until
from helpers.callbacks import SchedulerProcess, Topics, commands, read_to_end, stats
from helpers.cql import local_session, sessions_per_datacenter
from hotline_events.models import EventModel
from hotline_events.models.callbacks import CallbackRequested, DialCallback
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.sites import SiteAdoptionRequested
from hotline_streams.callbacks.models import Callback, Status
from hotline_streams.callbacks.store import CallbackStore, ensure_schema

pytestmark = pytest.mark.integration

TOKEN = "ct1_" + "d" * 64
OPERATOR = "//hotline/site-a/operator/op-0"


class Outage:
    """dc-b's Cassandra node stopped and started again; ``each_quorum`` tells whether
    dc-a sees it (a read that needs a replica in every datacenter)."""

    def __init__(self, node: CassandraNode, probe: Session, keyspace: str) -> None:
        if node.process is None:
            pytest.skip("dc-b's Cassandra is an external server: this test cannot stop it")
        self.node = node
        self.probe = probe
        self.keyspace = keyspace
        self.down = False

    def each_quorum(self) -> bool:
        try:
            self.probe.execute(SimpleStatement(
                f"SELECT site FROM {self.keyspace}.site_fences WHERE site = 'probe'",
                consistency_level=ConsistencyLevel.EACH_QUORUM), timeout=10)
            return True
        except (Unavailable, ReadTimeout, OperationTimedOut, NoHostAvailable):
            return False

    def stop(self) -> None:
        assert self.node.process is not None
        self.down = True
        self.node.process.stop(grace=60)
        wait_until(lambda: not self.each_quorum(), timeout=60,
                   what="dc-a seeing dc-b's node down")

    def restore(self) -> None:
        assert self.node.process is not None
        if not self.node.process.alive():
            self.node.process.start()
        self.node.wait_ready(timeout=180)
        wait_until(self.each_quorum, timeout=120, what="dc-a seeing dc-b's node up again")
        self.down = False


@pytest.fixture
def sessions(cassandra_two_dc: dict[str, CassandraNode]) -> Iterator[dict[str, Session]]:
    with sessions_per_datacenter(cassandra_two_dc) as sessions:
        yield sessions


@pytest.fixture
def keyspace(sessions: dict[str, Session]) -> str:
    name = f"callbacks_{uuid.uuid4().hex[:8]}"
    ensure_schema(sessions["dc-a"], name, {"dc-a": 1, "dc-b": 1})
    return name


@pytest.fixture
def outage(cassandra_two_dc: dict[str, CassandraNode], sessions: dict[str, Session],
           keyspace: str) -> Iterator[Outage]:
    made = Outage(cassandra_two_dc["dc-b"], sessions["dc-a"], keyspace)
    try:
        yield made
    finally:
        if made.down:
            made.restore()  # the rest of the session needs both datacenters


def new_callback(tenant: str, owner: str) -> Callback:
    now = time.time()
    callback_id = f"cb-{uuid.uuid4().hex[:10]}"
    return Callback(callback_id=callback_id, tenant=tenant, queue="billing",
                    call_id=f"call-{callback_id}", caller_token=TOKEN,
                    caller_number="+4930555000", reason="caller-request", priority=0,
                    original_enqueued_at=now - 120, requested_at=now - 60,
                    window_start=now - 60, window_end=now + 3600, owner_site=owner,
                    due_at=now - 60)


def request(tenant: str) -> tuple[str, list[EventModel]]:
    call_id, callback_id = f"call-{uuid.uuid4().hex[:8]}", f"cb-{uuid.uuid4().hex[:8]}"
    return callback_id, [
        CallerIdentified(call_id=call_id, tenant=tenant, caller_number="+4930555777",
                         caller_token=TOKEN),
        CallbackRequested(callback_id=callback_id, call_id=call_id, tenant=tenant,
                          queue="billing", reason="caller-request", caller_token=TOKEN,
                          original_enqueued_at=datetime.now(UTC))]


def probe_until(process: SchedulerProcess, check: Any, what: str,
                timeout: float = 60) -> dict[str, Any]:
    """The readiness body once ``check(code, body)`` holds."""
    def ready() -> dict[str, Any] | None:
        code, body = process.probe("/readyz")
        return body if check(code, body) else None
    try:
        return wait_for(ready, what, timeout=timeout, interval=0.2)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; last /readyz: {process.probe('/readyz')}\n"
                             f"{process.tail()}") from exc


def commanded(store: CallbackStore, tenant: str, callback_id: str) -> bool | None:
    cb = store.get(tenant, callback_id)
    return True if cb is not None and cb.status is Status.COMMANDED else None


def test_site_a_goes_on_alone_takes_site_b_over_and_site_b_returning_dials_nothing_twice(
        cassandra_two_dc: dict[str, CassandraNode], kafka_site_a: KafkaCluster,
        sessions: dict[str, Session], keyspace: str, outage: Outage, tmp_path: Path) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    node_a, node_b = cassandra_two_dc["dc-a"], cassandra_two_dc["dc-b"]
    store_a = CallbackStore(sessions["dc-a"], keyspace, site="site-a")
    store_b = CallbackStore(sessions["dc-b"], keyspace, site="site-b")
    # Each site's events on topics of its own (one Kafka is enough: no mirroring here).
    topics_a = Topics.fresh(kafka_site_a.bootstrap)
    topics_b = Topics.fresh(kafka_site_a.bootstrap)
    site_a = SchedulerProcess(node_a, keyspace, topics_a, tmp_path / "site-a.log",
                              site="site-a").wait_ready()
    site_b = SchedulerProcess(node_b, keyspace, topics_b, tmp_path / "site-b.log",
                              site="site-b").wait_ready()
    returning: SchedulerProcess | None = None
    cluster_b: Cluster | None = None
    try:
        for process in (site_a, site_b):
            probe_until(process, lambda code, _b: code == 200, "reconciled and ticking")
        # site-b's pending callbacks (no agent free there yet), replicated to dc-a.
        theirs = [new_callback(tenant, "site-b") for _ in range(3)]
        for cb in theirs:
            assert store_b.create(cb)
        wait_for(lambda: True if len(store_a.open_callbacks(tenant, "site-b")) == 3 else None,
                 "site-b's callbacks replicated to dc-a", timeout=30, interval=0.1)

        outage.stop()

        # site-b's scheduler, its Cassandra gone: it says what is wrong and stops on SIGTERM
        # at once although it is retrying the request it just got.
        b_new, b_events = request(tenant)
        topics_b.publish(*b_events)
        body = probe_until(site_b, lambda code, b: code == 503 and b["problem"]
                           and "dc-b" in b["problem"], "site-b naming its datacenter")
        assert "Cassandra" in body["problem"] or "coordinator" in body["problem"], body
        site_b.proc.terminate()
        stopped = time.monotonic()
        site_b.exit_code(15)
        assert time.monotonic() - stopped < 8.0, site_b.tail()

        # site-a alone: a new request is stored and dialled (LOCAL_SERIAL in dc-a).
        a_new, a_events = request(tenant)
        topics_a.publish(*a_events, stats(tenant, agents_ready=10))
        wait_for(lambda: commanded(store_a, tenant, a_new), "site-a's new callback dialled",
                 timeout=60, interval=0.2)
        body = probe_until(site_a, lambda code, b: code == 200 and b["warning"],
                           "site-a saying it goes on alone")
        assert "EACH_QUORUM" in body["warning"] and "goes on alone" in body["warning"], body

        # The operator's takeover (the witness's token 7), then a stale one (token 5).
        topics_a.publish(SiteAdoptionRequested(site="site-b", adopted_by="site-a",
                                               fencing_token=7, scope=("callbacks",)),
                         source=OPERATOR)
        topics_a.publish(SiteAdoptionRequested(site="site-b", adopted_by="site-a",
                                               fencing_token=5, scope=("callbacks",)),
                         source=OPERATOR)
        for cb in theirs:
            wait_for(lambda c=cb: commanded(store_a, tenant, c.callback_id),  # type: ignore[misc]
                     f"site-b's callback {cb.callback_id} dialled by site-a", timeout=60,
                     interval=0.2)
        probe_until(site_a, lambda _c, b: b["stale_adoptions_refused"] == 1,
                    "the stale takeover refused")

        outage.restore()
        # This test's own dc-b session saw the node go down and backs off reconnecting:
        # a new one, as the returning scheduler's.
        cluster_b, session_b = local_session(node_b, ConsistencyLevel.LOCAL_QUORUM)
        store_b = CallbackStore(session_b, keyspace, site="site-b")

        # site-b comes back (a new scheduler, dc-b's data as it was) with agents free.
        returning = SchedulerProcess(node_b, keyspace, topics_b, tmp_path / "site-b-2.log",
                                     site="site-b").wait_ready()
        topics_b.publish(stats(tenant, agents_ready=10, site="site-b"))
        probe_until(returning, lambda code, _b: code == 200, "site-b reconciled", timeout=90)
        wait_for(lambda: commanded(store_b, tenant, b_new),
                 "site-b dialling the request it got while its Cassandra was away",
                 timeout=60, interval=0.2)
        assert "came back after site-a took over its callbacks" in returning.tail(20000)
        for cb in theirs:
            closed = store_b.get(tenant, cb.callback_id)
            assert closed is not None and closed.status in (Status.CANCELLED,
                                                             Status.CONNECTED), closed
        assert [cb.callback_id for cb in store_b.open_callbacks(tenant)] == [b_new]

        # Every callback dialled once, by one site: one command id each (a command sent
        # again after its claim expired unconfirmed, no media node here, repeats its id).
        ids = {cb.callback_id for cb in theirs} | {a_new, b_new}
        per_site = {}
        for site, topics in (("site-a", topics_a), ("site-b", topics_b)):
            reader = topics.reader(DialCallback)
            try:
                read_to_end(reader)
                per_site[site] = Counter(e.data.callback_id  # type: ignore[attr-defined]
                                         for e in {e.id: e for e in commands(reader, ids)}.values())
            finally:
                reader.close()
        assert per_site["site-a"] == {**{cb.callback_id: 1 for cb in theirs}, a_new: 1}
        assert per_site["site-b"] == {b_new: 1}
    finally:
        for process in (site_a, site_b, returning):
            if process is not None:
                process.stop()
        if cluster_b is not None:
            cluster_b.shutdown()
