"""Agent-first preview on the real stack: a ready agent is reserved and offered the
callback (an event the desktop sees), answers through the scheduler's HTTP API, and the
customer is dialled on accept, offered to another agent on refusal, or dialled anyway
when the agent does not answer in time.

The production ``Scheduler`` runs in-process with a controllable clock; Cassandra (dc-a),
Kafka and the HTTP API are real. The desktop's answers travel through Kafka back to the
scheduler, as in production.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from helpers.callbacks import Clock, callback_store
from helpers.kafka_io import EventReader
from hotline_events.catalog import Catalog, default_catalog
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import AgentLoggedIn, AgentReady, SkillLevel
from hotline_events.models.callbacks import (
    CallbackPreviewAnswered,
    CallbackPreviewOffered,
    CallbackRequested,
    DialCallback,
)
from hotline_events.models.calls import CallQueued
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.metrics import QueueStatistics
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics
from hotline_streams.callbacks.models import CallbackPolicy, Status
from hotline_streams.callbacks.scheduler import Scheduler
from hotline_streams.callbacks.store import CallbackStore
from hotline_streams.callbacks.web import Health, serve

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
DESKTOP = "//hotline/site-a/agent-desktop/test"


@pytest.fixture(scope="module")
def store(cassandra_dc_a: CassandraNode) -> Iterator[CallbackStore]:
    with callback_store(cassandra_dc_a) as fresh:
        yield fresh


class Feed:
    """Reads a topic from the beginning and hands each new record to the scheduler once,
    as the scheduler's consumer loop does."""

    def __init__(self, bootstrap: str, catalog: Catalog, kind: type[EventModel]) -> None:
        self.reader = EventReader(bootstrap, catalog.topic_for_type(kind.TYPE).name)
        self.kind = kind
        self.handled = 0

    def until(self, scheduler: Scheduler, wanted: Any, timeout: float = 30) -> Any:
        found = self.reader.poll_until(lambda events: next(
            (e.data for e in events if isinstance(e.data, self.kind) and wanted(e.data)), None),
            timeout)
        for event in self.reader.events[self.handled:]:
            scheduler.handle(event)
        self.handled = len(self.reader.events)
        return found


def post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_agent_first_preview_accept_refuse_and_timeout(
        store: CallbackStore, kafka_site_a: KafkaCluster) -> None:
    catalog = default_catalog().prefixed(f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_site_a.bootstrap, catalog, replication_factor=1)
    tenant = f"t{uuid.uuid4().hex[:6]}"
    clock = Clock(START)
    policy = CallbackPolicy(agent_first_queues=frozenset({"billing"}), preview_timeout_s=20,
                            claim_ttl_s=30)
    producer = EventProducer(kafka_site_a.bootstrap, "//hotline/site-a/callbacks/preview",
                             catalog=catalog)
    scheduler = Scheduler(store, producer, site="site-a", instance="preview",
                          policy_of=lambda _t: policy, clock=clock, refresh_s=0)
    desktop = EventProducer(kafka_site_a.bootstrap, DESKTOP, catalog=catalog)

    def publish(data: EventModel) -> None:
        desktop.publish(data)
        desktop.flush()

    server = serve("127.0.0.1", 0, Health(), lambda t, c, b: scheduler.answer_preview(
        t, c, b, publish))
    base = f"http://127.0.0.1:{server.server_address[1]}/tenants/{tenant}/callbacks"
    offers = Feed(kafka_site_a.bootstrap, catalog, CallbackPreviewOffered)
    answers = Feed(kafka_site_a.bootstrap, catalog, CallbackPreviewAnswered)
    dials = Feed(kafka_site_a.bootstrap, catalog, DialCallback)

    def says(data: EventModel) -> None:
        scheduler.handle(Event(data=data, source="//hotline/site-a/test"))

    def request(n: int) -> str:
        call_id, callback_id = f"c-{uuid.uuid4().hex[:10]}", f"cb-{n}-{uuid.uuid4().hex[:6]}"
        token = f"ct1_{n:064d}"
        says(CallerIdentified(call_id=call_id, tenant=tenant, caller_number=f"+4930555{n:03d}",
                              caller_token=token))
        says(CallbackRequested(callback_id=callback_id, call_id=call_id, tenant=tenant,
                               queue="billing", reason="caller-request", caller_token=token,
                               original_enqueued_at=datetime.fromtimestamp(clock.now, UTC)))
        return callback_id

    try:
        says(CallQueued(call_id="c-skills", tenant=tenant, queue="billing",
                        required_skills=("billing",),
                        enqueued_at=datetime.fromtimestamp(START, UTC)))
        for agent, idle in (("a-1", 300), ("a-2", 100), ("a-3", 900)):
            skills = ("billing",) if agent != "a-3" else ("cards",)  # a-3 is not qualified
            says(AgentLoggedIn(agent_id=agent, tenant=tenant, site="site-a",
                               skills=tuple(SkillLevel(skill=s, proficiency=3) for s in skills)))
            clock.now = START - idle
            says(AgentReady(agent_id=agent, tenant=tenant))
        clock.now = START
        says(QueueStatistics(tenant=tenant, queue="billing", site="site-a",
                             as_of=datetime.now(UTC), waiting=0, longest_wait_seconds=0,
                             agents_staffed=2, agents_ready=2, agents_busy=0,
                             agents_not_ready=0, estimated_wait_seconds=0))

        first = request(1)
        assert scheduler.tick() == 0, "agent-first: nothing is dialled before the preview"
        offer = offers.until(scheduler, lambda e: e.callback_id == first)
        assert (offer.agent_id, offer.attempt) == ("a-1", 1)  # the longest idle, qualified
        assert offer.dial_by == datetime.fromtimestamp(START + 20, UTC)
        held = store.get(tenant, first)
        assert held is not None and (held.status, held.agent_id) == (Status.PREVIEWING, "a-1")

        # Only the reserved agent's answer counts; a-1 refuses: no dial attempt used.
        assert post(f"{base}/{first}/preview", {"agent_id": "a-2", "decision": "accepted"})[0] \
            == 409
        assert post(f"{base}/{first}/preview", {"agent_id": "a-1", "decision": "maybe"})[0] \
            == 400
        assert post(f"{base}/nope/preview", {"agent_id": "a-1", "decision": "accepted"})[0] \
            == 404
        assert post(f"{base}/{first}/preview", {"agent_id": "a-1", "attempt": 1,
                                                 "decision": "rejected"})[0] == 202
        answers.until(scheduler, lambda e: e.callback_id == first and e.agent_id == "a-1")
        released = store.get(tenant, first)
        assert released is not None and (released.status, released.attempt) == (
            Status.PENDING, 0)

        # Offered to the next agent, who accepts: the customer is dialled for that agent.
        scheduler.tick()
        offer = offers.until(scheduler, lambda e: e.callback_id == first and e.agent_id == "a-2")
        assert post(f"{base}/{first}/preview", {"agent_id": "a-2", "attempt": offer.attempt,
                                                 "decision": "accepted"})[0] == 202
        answers.until(scheduler, lambda e: e.callback_id == first and e.agent_id == "a-2")
        command = dials.until(scheduler, lambda e: e.callback_id == first)
        assert (command.agent_id, command.attempt) == ("a-2", 1)
        dialled = store.get(tenant, first)
        assert dialled is not None and dialled.status is Status.COMMANDED

        # Nobody answers the next preview: the customer is dialled at the deadline.
        second = request(2)
        scheduler.tick()
        offer = offers.until(scheduler, lambda e: e.callback_id == second)
        assert offer.agent_id == "a-1"  # a-2 is reserved for the first callback
        clock.now = START + 19
        assert scheduler.tick() == 0
        clock.now = START + 20
        assert scheduler.tick() == 1
        command = dials.until(scheduler, lambda e: e.callback_id == second)
        assert (command.agent_id, command.attempt) == ("a-1", 1)
        # One dial command per callback, whatever was offered and answered.
        assert sorted(e.data.callback_id for e in dials.reader.events  # type: ignore[attr-defined]
                      if isinstance(e.data, DialCallback)) == sorted([first, second])
    finally:
        server.shutdown()
        for feed in (offers, answers, dials):
            feed.reader.close()
