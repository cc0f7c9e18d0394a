"""No caller lost, even then: callers waiting in site-b's queues when site-b is lost get
a callback from site-a, in their original place, dialled exactly once.

site-b's media node publishes its calls and callers' numbers on site-b's Kafka;
MirrorMaker 2 mirrors them to site-a (``site-b.<topic>``), where site-a's scheduler
(the production entry point, ``--peer site-b``) follows them. The operator's
SiteAdoptionRequested makes site-a offer each waiting caller a callback; a restarted
scheduler given the same command again dials nobody twice.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from devstack.mirrormaker import MirrorMaker
from devstack.process import wait_for
from helpers.callbacks import SchedulerProcess, Topics, callback_store, commands, read_to_end, stats
from helpers.kafka_io import EventReader
from hotline_events.catalog import mirrored
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.callbacks import CallbackRequested, DialCallback
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallQueued
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.sites import SiteAdoptionRequested
from hotline_events.producer import EventProducer
from hotline_streams.callbacks.models import Status
from hotline_streams.callbacks.ownership import stranded_callback_id
from hotline_streams.callbacks.store import CallbackStore

pytestmark = pytest.mark.integration

OPERATOR = "//hotline/site-a/operator/op-0"
MEDIA_NODE_B = "//hotline/site-b/media-node/mn-b-1"


@pytest.fixture
def store(cassandra_dc_a: CassandraNode) -> Iterator[CallbackStore]:
    with callback_store(cassandra_dc_a) as found:
        yield found


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def token(n: int) -> str:
    return f"ct1_{n:064x}"


def test_callers_waiting_at_the_lost_site_get_one_callback_each_in_their_place(
        cassandra_dc_a: CassandraNode, kafka_site_a: KafkaCluster, kafka_site_b: KafkaCluster,
        mirrormaker2: MirrorMaker, store: CallbackStore, tmp_path: Path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    topics_a = Topics.fresh(kafka_site_a.bootstrap, prefix)
    topics_b = Topics.fresh(kafka_site_b.bootstrap, prefix)
    tenant = f"t{uuid.uuid4().hex[:6]}"
    now = time.time()
    calls = {name: f"{name}-{uuid.uuid4().hex[:6]}" for name in
             ("waiting", "vip", "answered", "abandoned", "withheld")}
    enqueued = {"waiting": now - 90, "vip": now - 40, "answered": now - 60,
                "abandoned": now - 50, "withheld": now - 30}
    events: list[EventModel] = []
    for n, (name, call) in enumerate(calls.items()):
        if name != "withheld":
            events.append(CallerIdentified(call_id=call, tenant=tenant,
                                           caller_number=f"+49305550{n:03d}",
                                           caller_token=token(n + 1)))
        events.append(CallQueued(call_id=call, tenant=tenant, queue="billing",
                                 enqueued_at=at(enqueued[name]),
                                 caller_tier="vip" if name == "vip" else "standard"))
    events.append(CallAnswered(call_id=calls["answered"], tenant=tenant, queue="billing",
                               agent_id="agent-b1", wait_seconds=5))
    events.append(CallAbandoned(call_id=calls["abandoned"], tenant=tenant, stage="queue",
                                queue="billing", wait_seconds=8))
    site_b = EventProducer(kafka_site_b.bootstrap, MEDIA_NODE_B, catalog=topics_b.catalog)
    for data in events:
        site_b.publish_event(Event(data=data, source=MEDIA_NODE_B))
    site_b.flush()
    # Mirrored to site-a before site-a's scheduler starts (it reads them back from there).
    for model, count in ((CallQueued, 5), (CallerIdentified, 4)):
        reader = EventReader(kafka_site_a.bootstrap, mirrored("site-b", topics_a.topic(model)),
                             timeout=90)
        try:
            reader.poll_until(lambda found, m=model, c=count: len(  # type: ignore[misc]
                [e for e in found if isinstance(e.data, m)]) >= c, timeout=90)
        finally:
            reader.close()

    stranded = {name: stranded_callback_id("site-b", calls[name]) for name in ("waiting", "vip")}
    others = {stranded_callback_id("site-b", calls[name])
              for name in ("answered", "abandoned", "withheld")}
    adoption = SiteAdoptionRequested(site="site-b", adopted_by="site-a", fencing_token=3,
                                     scope=("callbacks", "sla-intervals"))

    def scheduler(log: str) -> SchedulerProcess:
        return SchedulerProcess(cassandra_dc_a, store.keyspace, topics_a, tmp_path / log,
                                extra=["--peer", "site-b"]).wait_ready()

    first = scheduler("first.log")
    try:
        topics_a.publish(stats(tenant, agents_ready=10))
        topics_a.publish(adoption, source=OPERATOR)
        for name, callback_id in stranded.items():
            wait_for(lambda c=callback_id: True if (cb := store.get(tenant, c)) is not None  # type: ignore[misc]
                     and cb.status is Status.COMMANDED else None,
                     f"the {name} caller's callback dialled", timeout=60, interval=0.2)
        assert "number is not known" in first.tail(20000)
    finally:
        first.stop()
    for name, callback_id in stranded.items():
        cb = store.get(tenant, callback_id)
        assert cb is not None and cb.original_enqueued_at == pytest.approx(enqueued[name])
        assert (cb.call_id, cb.reason, cb.adopted_from) == (calls[name], "site-lost", "site-b")
    assert store.get(tenant, stranded["vip"]).priority > store.get(  # type: ignore[union-attr]
        tenant, stranded["waiting"]).priority  # type: ignore[union-attr]

    # The failover resumed: a new scheduler, the same command again.
    second = scheduler("second.log")
    try:
        topics_a.publish(adoption, source=OPERATOR)
        wait_for(lambda: True if second.tail(20000).count("number is not known") else None,
                 "the restarted scheduler's pass over site-b's waiting callers", timeout=60,
                 interval=0.2)
    finally:
        second.stop()
    dials = topics_a.reader(DialCallback)
    requests = topics_a.reader(CallbackRequested)
    try:
        read_to_end(dials)
        distinct = {e.id: e for e in commands(dials, set(stranded.values()) | others)}
        sent = Counter(e.data.callback_id for e in distinct.values())  # type: ignore[attr-defined]
        assert sent == {callback_id: 1 for callback_id in stranded.values()}, sent
        announced = [e for e in read_to_end(requests) if isinstance(e.data, CallbackRequested)]
        assert {e.data.callback_id for e in announced} == set(stranded.values())  # type: ignore[attr-defined]
        assert {e.data.reason for e in announced} == {"site-lost"}  # type: ignore[attr-defined]
        assert len({e.id for e in announced}) == 2  # a repeat carries the same event id
    finally:
        dials.close()
        requests.close()
