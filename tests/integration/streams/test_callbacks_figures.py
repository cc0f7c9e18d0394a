"""Callback figures on the SLA topic: counted in Cassandra by the scheduler that made
each change, published per site, queue and interval, final once the interval closed.

The production ``Scheduler`` runs in-process with a controllable clock (the figures
are per 15-minute interval); Cassandra (dc-a) and Kafka are real, and the figures are
read back from the SLA topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from helpers.callbacks import Clock, callback_store
from helpers.kafka_io import EventReader
from hotline_events.catalog import default_catalog
from hotline_events.envelope import Event, format_time
from hotline_events.models import EventModel
from hotline_events.models.callbacks import (
    CallbackConnected,
    CallbackFailed,
    CallbackRequested,
    DialCallback,
)
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.metrics import CallbackInterval, QueueStatistics, SlaInterval
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics
from hotline_streams.callbacks.logic import FIGURES_GRACE_S
from hotline_streams.callbacks.models import CallbackPolicy
from hotline_streams.callbacks.scheduler import Scheduler
from hotline_streams.callbacks.store import CallbackStore

pytestmark = pytest.mark.integration

NODE = "//hotline/site-a/media-nodes/mn-0"
QUARTER = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def store(cassandra_dc_a: CassandraNode) -> Iterator[CallbackStore]:
    with callback_store(cassandra_dc_a) as fresh:
        yield fresh


def test_requested_dialled_connected_success_rate_time_to_connect_and_recovered_abandons(
        store: CallbackStore, kafka_site_a: KafkaCluster) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    catalog = default_catalog().prefixed(prefix)
    ensure_topics(kafka_site_a.bootstrap, catalog, replication_factor=1)
    tenant = f"t{uuid.uuid4().hex[:6]}"
    clock = Clock(QUARTER + 60)
    policy = CallbackPolicy(max_attempts=2, retry_backoff_s=60, claim_ttl_s=30)
    producer = EventProducer(kafka_site_a.bootstrap, "//hotline/site-a/callbacks/figures",
                             catalog=catalog)
    scheduler = Scheduler(store, producer, site="site-a", instance="figures",
                          policy_of=lambda _t: policy, clock=clock, refresh_s=0,
                          figures_every_s=3600)  # published when the test says so

    def says(data: EventModel, source: str = NODE) -> None:
        scheduler.handle(Event(data=data, source=source))

    says(QueueStatistics(tenant=tenant, queue="billing", site="site-a",
                         as_of=datetime.now(UTC), waiting=0, longest_wait_seconds=0,
                         agents_staffed=5, agents_ready=5, agents_busy=0, agents_not_ready=0,
                         estimated_wait_seconds=0))
    callbacks: dict[str, str] = {}  # callback id → call id
    for n, reason in enumerate(("caller-request", "abandoned-auto", "caller-request")):
        call_id, callback_id = f"c-{uuid.uuid4().hex[:10]}", f"cb-{n}-{uuid.uuid4().hex[:8]}"
        token = f"ct1_{n:064d}"
        says(CallerIdentified(call_id=call_id, tenant=tenant, caller_number=f"+49305550{n}",
                              caller_token=token))
        says(CallbackRequested(callback_id=callback_id, call_id=call_id, tenant=tenant,
                               queue="billing", reason=reason, caller_token=token,  # type: ignore[arg-type]
                               original_enqueued_at=datetime.fromtimestamp(clock.now - 90, UTC)))
        callbacks[callback_id] = call_id
    requested_at = clock.now
    clock.now += 120
    assert scheduler.tick() == 3
    first, auto, unlucky = callbacks
    for callback_id in (first, auto):  # picked up 2 minutes after the request
        says(CallbackConnected(callback_id=callback_id, call_id=callbacks[callback_id],
                               tenant=tenant, outbound_call_id=f"o-{callback_id}", attempt=1,
                               ring_seconds=4.0))
    says(CallbackFailed(callback_id=unlucky, call_id=callbacks[unlucky], tenant=tenant,
                        attempt=1, reason="no-answer", will_retry=True))
    clock.now += 61
    assert scheduler.tick() == 1  # the retry: the last attempt
    says(CallbackFailed(callback_id=unlucky, call_id=callbacks[unlucky], tenant=tenant,
                        attempt=2, reason="busy", will_retry=False))
    assert scheduler.publish_figures() == 1

    clock.now = QUARTER + 900 + FIGURES_GRACE_S  # the interval closed, late outcomes had time
    assert scheduler.publish_figures() == 1
    assert scheduler.publish_figures() == 0, "unchanged figures are not published again"

    sla_topic = catalog.topic_for_type(SlaInterval.TYPE).name
    assert catalog.topic_for_type(CallbackInterval.TYPE).name == sla_topic
    reader = EventReader(kafka_site_a.bootstrap, sla_topic)
    try:
        records = reader.poll_until(lambda events: (found := [
            e.data for e in events if isinstance(e.data, CallbackInterval)
            and e.data.tenant == tenant]) and found[-1].final and found, timeout=30)
    finally:
        reader.close()
    # Provisional records while the interval was open (ticks publish changes too), then
    # the final one; one key, so in order.
    *provisional, final = records
    assert provisional and not any(r.final for r in provisional)
    for figures in (provisional[-1], final):
        assert (figures.queue, figures.site, figures.interval_seconds) == ("billing", "site-a",
                                                                           900)
        assert figures.interval_start == datetime.fromtimestamp(QUARTER, UTC)
        assert (figures.requested, figures.dialled, figures.connected, figures.failed,
                figures.cancelled, figures.recovered_abandons) == (3, 4, 2, 2, 1, 1)
        assert figures.success_rate == 0.5  # 2 connected of 4 dials
        assert figures.mean_seconds_to_connect == pytest.approx(120.0)
    # Keyed with the site: it never replaces the queue's service level under compaction.
    assert catalog.key_for(final).decode() == (
        f"{tenant}/billing/{format_time(final.interval_start)}/site-a")
    # The node was told which attempt was the last: it reports will_retry accordingly.
    dials = EventReader(kafka_site_a.bootstrap, catalog.topic_for_type(DialCallback.TYPE).name)
    try:
        sent = dials.poll_until(lambda events: (found := [
            e.data for e in events if isinstance(e.data, DialCallback)
            and e.data.tenant == tenant]) and len(found) >= 4 and found, timeout=30)
    finally:
        dials.close()
    assert sorted((d.callback_id == unlucky, d.attempt, d.final_attempt) for d in sent) == [
        (False, 1, False), (False, 1, False), (True, 1, False), (True, 2, True)]
    assert requested_at < clock.now
