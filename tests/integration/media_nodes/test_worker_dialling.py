"""Outbound dialling for callbacks: a DialCallback command (produced by the test, as the
callbacks service would) makes the node dial the customer (SIPp), report it on the
callback events, queue the answered call with its original enqueue time, and bridge it
to the agent routing picks; a busy customer is reported as such.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from media_nodes_support import (
    SIPP_PCAPS,
    Worker,
    free_udp_port,
    render,
    start_sipp_uas,
    start_worker,
    token,
    wait_sipp,
)

from devstack.kafka import KafkaCluster
from helpers.kafka_io import EventReader
from hotline_events.catalog import Catalog
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.callbacks import (
    CallbackConnected,
    CallbackDialling,
    CallbackFailed,
    DialCallback,
)
from hotline_events.models.calls import CallAnswered, CallCompleted, CallQueued
from hotline_events.models.routing import RoutingDecision
from hotline_events.producer import EventProducer

pytestmark = pytest.mark.integration

AUDIO = str(SIPP_PCAPS / "g711a.pcap")


@pytest.fixture(scope="module")
def customer_port() -> int:
    return free_udp_port()


@pytest.fixture(scope="module")
def dialler(kafka_site_a: KafkaCluster, catalog: Catalog, prompt_cache: Path, customer_port: int,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    w = start_worker(kafka_site_a.bootstrap, catalog, prompt_cache,
                     tmp_path_factory.mktemp("dialling"), "mn-it-dial",
                     "--dial-uri-template", f"sip:{{number}}@127.0.0.1:{customer_port}",
                     "--dial-group", f"it-dial-{uuid.uuid4().hex[:6]}",
                     "--dial-ring-seconds", "20")
    yield w
    assert w.stop() == 0, f"worker exited badly:\n{w.log_text()[-3000:]}"


@pytest.fixture(scope="module")
def producer(kafka_site_a: KafkaCluster, catalog: Catalog) -> EventProducer:
    return EventProducer(kafka_site_a.bootstrap, "//hotline/site-a/streams/it-callbacks",
                         catalog=catalog)


def dial_command(number: str) -> DialCallback:
    return DialCallback(
        callback_id=f"cb-{uuid.uuid4().hex[:10]}", call_id=f"c-{uuid.uuid4().hex}",
        tenant="it-bank", queue="general", site="site-a", caller_number=number,
        caller_token=token(number), attempt=1, claim_id=f"claim-{uuid.uuid4().hex[:8]}",
        original_enqueued_at=datetime.now(UTC) - timedelta(minutes=10))


def first(bootstrap: str, catalog: Catalog, kind: type[EventModel],
          match: Callable[[EventModel], bool]) -> EventModel:
    reader = EventReader(bootstrap, catalog.topic_for_type(kind.TYPE).name)
    try:
        def found(events: list[Event]) -> EventModel | None:
            return next((e.data for e in events if isinstance(e.data, kind) and match(e.data)),
                        None)
        return reader.poll_until(found, 45)
    finally:
        reader.close()


def test_callback_dialled_answered_queued_with_its_place_and_bridged(
        dialler: Worker, producer: EventProducer, customer_port: int, sipp: Path,
        tmp_path: Path, kafka_site_a: KafkaCluster, catalog: Catalog) -> None:
    number, agent = "+4915112345631", "agent-11"
    customer_scenario = render("agent_answers_then_hangs_up.xml", tmp_path, agent=number,
                               ring_ms="500", talk_ms="8000", audio_pcap=AUDIO)
    customer, _ = start_sipp_uas(sipp, customer_scenario, port=customer_port)
    agent_scenario = render("agent_answers_waits_for_bye.xml", tmp_path, agent=agent,
                            ring_ms="300", bye_timeout_ms="60000", audio_pcap=AUDIO)
    phone, phone_port = start_sipp_uas(sipp, agent_scenario)
    cmd = dial_command(number)
    trace = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"  # the original call's trace
    try:
        producer.publish(cmd, traceparent=trace)
        producer.flush(30)
        bootstrap = kafka_site_a.bootstrap
        dialling = first(bootstrap, catalog, CallbackDialling,
                         lambda e: getattr(e, "callback_id", "") == cmd.callback_id)
        assert isinstance(dialling, CallbackDialling)
        assert (dialling.media_node, dialling.site, dialling.attempt) == ("mn-it-dial",
                                                                          "site-a", 1)
        outbound = dialling.outbound_call_id
        queued = first(bootstrap, catalog, CallQueued,
                       lambda e: getattr(e, "call_id", "") == outbound)
        assert isinstance(queued, CallQueued)
        assert (queued.queue, queued.callback_id) == ("general", cmd.callback_id)
        assert queued.original_enqueued_at == cmd.original_enqueued_at
        producer.publish(RoutingDecision(
            decision_id=f"d-{uuid.uuid4().hex[:10]}", call_id=outbound, tenant="it-bank",
            queue="general", agent_id=agent, site="site-a", rule="longest-idle",
            waited_seconds=600, candidates=1, agent_uri=f"sip:{agent}@127.0.0.1:{phone_port}"))
        producer.flush(30)
        wait_sipp(customer, customer_scenario)  # answered, talked, hung up
        wait_sipp(phone, agent_scenario)  # the node hung the agent up after the customer
    finally:
        for proc in (customer, phone):
            if proc.poll() is None:
                proc.kill()
    connected = first(kafka_site_a.bootstrap, catalog, CallbackConnected,
                      lambda e: getattr(e, "callback_id", "") == cmd.callback_id)
    assert isinstance(connected, CallbackConnected)
    assert connected.outbound_call_id == outbound and 0.3 <= connected.ring_seconds < 10
    answered = first(kafka_site_a.bootstrap, catalog, CallAnswered,
                     lambda e: getattr(e, "call_id", "") == outbound)
    assert isinstance(answered, CallAnswered) and answered.agent_id == agent
    assert answered.wait_seconds >= 600  # counted from the original enqueue
    completed = first(kafka_site_a.bootstrap, catalog, CallCompleted,
                      lambda e: getattr(e, "call_id", "") == outbound)
    # The callback's events continue the original call's trace.
    reader = EventReader(kafka_site_a.bootstrap, catalog.topic_for_type(CallQueued.TYPE).name)
    try:
        outbound_events = reader.poll_until(
            lambda evs: [e for e in evs if e.subject == outbound] or None, 30)
    finally:
        reader.close()
    assert {e.traceparent.split("-")[1] if e.traceparent else None
            for e in outbound_events} == {"ab" * 16}
    assert isinstance(completed, CallCompleted)
    assert (completed.ended_by, completed.agent_id) == ("caller", agent)


def test_a_busy_customer_is_reported_busy_and_a_replayed_command_is_not_dialled_twice(
        dialler: Worker, producer: EventProducer, customer_port: int, sipp: Path,
        tmp_path: Path, kafka_site_a: KafkaCluster, catalog: Catalog) -> None:
    scenario = render("customer_busy.xml", tmp_path)
    customer, _ = start_sipp_uas(sipp, scenario, port=customer_port)
    cmd = dial_command("+4915112345632")
    try:
        producer.publish(cmd)
        producer.publish(cmd)  # a replay (another event id, the same claim)
        producer.flush(30)
        failed = first(kafka_site_a.bootstrap, catalog, CallbackFailed,
                       lambda e: getattr(e, "callback_id", "") == cmd.callback_id)
        wait_sipp(customer, scenario)
    finally:
        if customer.poll() is None:
            customer.kill()
    assert isinstance(failed, CallbackFailed)
    assert (failed.reason, failed.attempt) == ("busy", 1)
    assert f"claim {cmd.claim_id}/1 was already dialled by this worker" in dialler.log_text()
