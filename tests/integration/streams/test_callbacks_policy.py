"""The toll-fraud guard on the real servers: a callback to 112, to a premium-rate number
or above the per-number rate limit is refused (recorded closed with its reason, said
with ``CallbackRefused``, logged with the number masked) and never dialled, while a
good request right after it is dialled.

The scheduler is the production entry point on real Kafka and Cassandra, with a
policy file; the caller numbers come on the identity topic as a spoofed From header
would bring them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from devstack.process import wait_for
from helpers.callbacks import SchedulerProcess, Topics, callback_store, read_to_end, stats
from hotline_events.envelope import Event
from hotline_events.models.callbacks import CallbackRefused, CallbackRequested, DialCallback
from hotline_events.models.identity import CallerIdentified
from hotline_streams.callbacks.models import Callback, Status
from hotline_streams.callbacks.store import CallbackStore

pytestmark = pytest.mark.integration

TOKEN = "ct1_" + "d" * 64
GOOD = "+4930555123"


@pytest.fixture(scope="module")
def store(cassandra_dc_a: CassandraNode) -> Iterator[CallbackStore]:
    with callback_store(cassandra_dc_a) as found:
        yield found


def request(topics: Topics, tenant: str, number: str) -> str:
    """The caller's identity and their callback request; returns the callback id."""
    call_id, callback_id = f"call-{uuid.uuid4().hex[:8]}", f"cb-{uuid.uuid4().hex[:8]}"
    topics.publish(
        CallerIdentified(call_id=call_id, tenant=tenant, caller_number=number,
                         caller_token=TOKEN),
        CallbackRequested(callback_id=callback_id, call_id=call_id, tenant=tenant,
                          queue="billing", reason="caller-request", caller_token=TOKEN,
                          original_enqueued_at=datetime.now(UTC)))
    return callback_id


def settled(store: CallbackStore, tenant: str, callback_id: str, status: Status) -> Callback:
    found: Callback = wait_for(
        lambda: cb if (cb := store.get(tenant, callback_id)) is not None
        and cb.status is status else None,
        f"callback {callback_id} {status.value}", timeout=30, interval=0.2)
    return found


def test_emergency_premium_and_over_the_limit_callbacks_are_refused_and_never_dialled(
        cassandra_dc_a: CassandraNode, kafka_site_a: KafkaCluster, store: CallbackStore,
        tmp_path: Path) -> None:
    topics = Topics.fresh(kafka_site_a.bootstrap)
    tenant = f"t{uuid.uuid4().hex[:6]}"
    policies = tmp_path / "policies.yaml"
    policies.write_text(f"{tenant}: {{allowed_countries: [DE], max_per_number_per_hour: 1}}\n")
    scheduler = SchedulerProcess(cassandra_dc_a, store.keyspace, topics,
                                 tmp_path / "scheduler.log",
                                 extra=["--policies", str(policies)]).wait_ready()
    try:
        topics.publish(stats(tenant, agents_ready=5))  # an agent free: a good one is dialled
        emergency = request(topics, tenant, "112")
        premium = request(topics, tenant, "+499001234567")
        expected = {emergency: ("emergency-number", "refused: emergency number"),
                    premium: ("premium-rate", "refused: premium-rate number")}
        for callback_id, (_code, text) in expected.items():
            assert settled(store, tenant, callback_id, Status.CANCELLED).outcome == text

        good = request(topics, tenant, GOOD)  # the next good request is still dialled
        settled(store, tenant, good, Status.COMMANDED)
        again = request(topics, tenant, GOOD)  # the same number within the hour: limit 1
        expected[again] = ("number-rate-limit", "refused: 1 callback(s) to this number in "
                                                "the last hour (limit 1)")
        assert settled(store, tenant, again, Status.CANCELLED).outcome == expected[again][1]

        refused_reader = topics.reader(CallbackRefused)
        dial_reader = topics.reader(DialCallback)
        try:
            refused: dict[str, Event] = refused_reader.poll_until(
                lambda events: found if len(found := {
                    e.data.callback_id: e for e in events
                    if isinstance(e.data, CallbackRefused)}) >= 3 else None, timeout=30)
            dialled = [e.data for e in read_to_end(dial_reader)
                       if isinstance(e.data, DialCallback)]
        finally:
            refused_reader.close()
            dial_reader.close()
        assert {cid: (e.data.reason, f"refused: {e.data.detail}")  # type: ignore[attr-defined]
                for cid, e in refused.items()} == expected
        assert [d.callback_id for d in dialled] == [good]  # nothing refused was dialled
        assert dialled[0].caller_number == GOOD

        log = scheduler.tail(40_000)
        for callback_id, (_code, text) in expected.items():
            line = next(x for x in log.splitlines() if callback_id in x and "never dialled" in x)
            assert "WARNING" in line and tenant in line and text in line, line
        assert "499001234567" not in log and "***567" in log  # the number masked
    finally:
        scheduler.stop()
