"""A callback end to end, every part real: offered in the IVR, stored, dialled, bridged.

SIPp calls a media-node worker, asks for an agent, hears the callback offer (the stream
worker's wait estimate is above the queue's threshold: no agent is logged in) and
presses 1; the node confirms and hangs up. The callback scheduler (Cassandra dc-a,
Kafka) stores the request. An agent then logs in and becomes ready through the stream
worker's agent API; the stream worker's queue statistics show a free agent, the
scheduler claims the callback and commands the dial, the node dials the customer's
phone (a SIPp UAS), the customer answers, the stream worker routes the call to the
agent, whose phone (another SIPp UAS) is bridged to the customer. The outcome events
follow (connected, then the call completed by the customer hanging up) and the callback
ends ``connected`` in Cassandra.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cassandra import ConsistencyLevel

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from helpers.cql import local_session
from helpers.kafka_io import EventReader
from helpers.streams_worker import StreamWorker, free_port
from hotline_events.catalog import Catalog, default_catalog
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.callbacks import (
    CallbackConnected,
    CallbackDialling,
    CallbackRequested,
    DialCallback,
)
from hotline_events.models.calls import CallAnswered, CallCompleted, CallOffered, CallQueued
from hotline_events.models.metrics import CallbackInterval
from hotline_events.models.routing import RoutingDecision
from hotline_events.topics import ensure_topics
from hotline_media_nodes.ivr.loader import load_flow
from hotline_media_nodes.prompts import install_prompts
from hotline_streams.callbacks.models import Status
from hotline_streams.callbacks.store import CallbackStore, ensure_schema

# The media-node tests' helpers: a real worker subprocess, SIPp runs, scenario files.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "media_nodes"))
from media_nodes_support import (
    FLOW,
    SIPP_PCAPS,
    Worker,
    free_udp_port,
    render,
    sipp_command,
    start_sipp_uas,
    start_worker,
    token,
    wait_sipp,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TENANTS = REPO / "streams" / "config-examples"  # it-bank: the queues of the test IVR flow
TENANT, QUEUE = "it-bank", "general"
AUDIO = str(SIPP_PCAPS / "g711a.pcap")
T = TypeVar("T")


@dataclass
class Platform:
    bootstrap: str
    catalog: Catalog
    prefix: str
    worker: Worker
    streams: StreamWorker
    scheduler: subprocess.Popen[bytes]
    scheduler_log: Path
    store: CallbackStore
    customer_port: int
    phone_port: int

    def reader(self, model: type[EventModel]) -> EventReader:
        return EventReader(self.bootstrap, self.catalog.topic_for_type(model.TYPE).name)

    def logs(self) -> str:
        return (f"--- scheduler\n{self.scheduler_log.read_text(errors='replace')[-2500:]}\n"
                f"--- media node\n{self.worker.log_text()[-2500:]}\n"
                f"--- stream worker\n{self.streams.tail(lines=25)}")


@pytest.fixture(scope="module")
def platform(kafka_site_a: KafkaCluster, cassandra_dc_a: CassandraNode,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    workdir = tmp_path_factory.mktemp("callback-e2e")
    prefix = f"t{uuid.uuid4().hex[:8]}."
    catalog = default_catalog().prefixed(prefix)
    ensure_topics(kafka_site_a.bootstrap, catalog, replication_factor=1)
    cluster, session = local_session(cassandra_dc_a, ConsistencyLevel.LOCAL_QUORUM)
    keyspace = f"callbacks_{uuid.uuid4().hex[:8]}"
    ensure_schema(session, keyspace, {cassandra_dc_a.datacenter: 1})
    prompts = workdir / "prompts"
    install_prompts(load_flow(FLOW), prompts)
    customer_port, phone_port, web_port = free_udp_port(), free_udp_port(), free_port()

    streams = StreamWorker(env={
        **os.environ, "HOTLINE_KAFKA_SITE_A": kafka_site_a.bootstrap,
        "HOTLINE_STREAMS_APP_ID": f"streams-e2e-{prefix.strip('.')}",
        "HOTLINE_TOPIC_PREFIX": prefix, "HOTLINE_TENANTS_DIR": str(TENANTS),
        "HOTLINE_STREAMS_WEB_PORT": str(web_port),
        "HOTLINE_STREAMS_DATA_DIR": str(workdir / "streams-data")},
        log_path=workdir / "streams", port=web_port)
    scheduler_log = workdir / "scheduler.log"
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "hotline_streams.callbacks", "run",
         "--kafka", kafka_site_a.bootstrap, "--topic-prefix", prefix,
         "--cassandra", f"{cassandra_dc_a.address}:{cassandra_dc_a.port}",
         "--datacenter", cassandra_dc_a.datacenter, "--keyspace", keyspace,
         "--site", "site-a", "--instance", "sched-e2e", "--tick-seconds", "0.2"],
        stdout=subprocess.DEVNULL, stderr=scheduler_log.open("wb"))
    worker: Worker | None = None
    try:
        # The two slow starts run side by side.
        with ThreadPoolExecutor(2) as pool:
            streams_ready = pool.submit(streams.start, 150.0)
            worker = start_worker(
                kafka_site_a.bootstrap, catalog, prompts, workdir, "mn-e2e-0",
                "--dial-uri-template", f"sip:{{number}}@127.0.0.1:{customer_port}",
                "--dial-ring-seconds", "20", "--dial-group", f"{prefix}dial",
                "--agent-uri-template", f"sip:{{agent_id}}@127.0.0.1:{phone_port}")
            streams_ready.result()
        assert scheduler.poll() is None, scheduler_log.read_text()[-3000:]
        yield Platform(kafka_site_a.bootstrap, catalog, prefix, worker, streams, scheduler,
                       scheduler_log, CallbackStore(session, keyspace), customer_port,
                       phone_port)
    finally:
        scheduler.terminate()
        streams.stop()
        try:
            scheduler.wait(30)
        finally:
            if worker is not None:
                worker.stop()
            cluster.shutdown()


def first(platform: Platform, kind: type[T], match: Callable[[T], bool],
          timeout: float = 60) -> T:
    """The first ``kind`` event on its topic for which ``match`` holds."""
    reader = platform.reader(kind)  # type: ignore[arg-type]
    try:
        def found(events: list[Event]) -> T | None:
            return next((e.data for e in events
                         if isinstance(e.data, kind) and match(e.data)), None)
        return reader.poll_until(found, timeout, describe=platform.logs)
    finally:
        reader.close()


def agent_action(platform: Platform, agent: str, action: str, body: dict[str, Any],
                 timeout: float = 60) -> None:
    """POST to the agent API until accepted (the login must reach the routing state
    before ``ready`` is; that is a Kafka round trip)."""
    deadline = time.monotonic() + timeout
    while True:
        status, reply = platform.streams.post(f"/tenants/{TENANT}/agents/{agent}/{action}",
                                              body)
        if status == 202:
            return
        assert status == 409 and time.monotonic() < deadline, (status, reply)
        time.sleep(0.2)  # polling an HTTP API; its state has no push notification


def test_a_callback_offered_in_the_ivr_is_stored_dialled_bridged_to_an_agent_and_connected(
        platform: Platform, sipp: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    caller, agent = "+4915112345677", f"agent-e2e-{uuid.uuid4().hex[:4]}"
    # The customer's phone: answers the callback, talks long enough to be bridged, hangs up.
    customer_scenario = render("agent_answers_then_hangs_up.xml", tmp_path, agent=caller,
                               ring_ms="500", talk_ms="12000", audio_pcap=AUDIO)
    customer, _ = start_sipp_uas(sipp, customer_scenario, port=platform.customer_port,
                                 timeout_s=150)
    agent_scenario = render("agent_answers_waits_for_bye.xml", tmp_path, agent=agent,
                            ring_ms="300", bye_timeout_ms="120000", audio_pcap=AUDIO)
    phone, _ = start_sipp_uas(sipp, agent_scenario, port=platform.phone_port, timeout_s=150)
    # The caller presses 0 for an agent, then keeps pressing 1 (ignored until the offer)
    # until the node confirms the callback and hangs up.
    caller_scenario = render("caller_agent_survey.xml", tmp_path, caller=caller, score="1",
                             audio_pcap=AUDIO)
    calling = subprocess.Popen(
        sipp_command(sipp, caller_scenario, platform.worker.port, service="800100",
                     timeout_s=90),
        cwd=caller_scenario.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        wait_sipp(calling, caller_scenario, timeout=120)
        request = first(platform, CallbackRequested,
                        lambda e: e.tenant == TENANT and e.caller_token == token(caller))
        assert (request.queue, request.reason) == (QUEUE, "caller-request")
        offered = first(platform, CallOffered, lambda e: e.call_id == request.call_id)
        queued = first(platform, CallQueued, lambda e: e.call_id == request.call_id)
        assert request.original_enqueued_at == queued.enqueued_at  # keeps its place in line
        done = first(platform, CallCompleted, lambda e: e.call_id == request.call_id)
        assert (done.disposition, done.ended_by) == ("callback-requested", "system")
        assert offered.caller_token == token(caller)

        # Stored before anything is dialled: no agent is logged in yet.
        stored = _poll(lambda: platform.store.get(TENANT, request.callback_id), 60,
                       platform.logs)
        assert stored.status is Status.PENDING and stored.caller_number == caller
        assert stored.original_enqueued_at == pytest.approx(
            queued.enqueued_at.timestamp(), abs=0.01)

        # An agent becomes free: the scheduler dials, the node calls the customer.
        agent_free_at = time.time()
        agent_action(platform, agent, "login", {"skills": {"general": 3}})
        agent_action(platform, agent, "ready", {})
        command = first(platform, DialCallback, lambda e: e.callback_id == request.callback_id)
        assert (command.caller_number, command.attempt, command.final_attempt) == (
            caller, 1, False)
        dialling = first(platform, CallbackDialling,
                         lambda e: e.callback_id == request.callback_id)
        assert dialling.media_node == "mn-e2e-0"
        outbound = dialling.outbound_call_id
        connected = first(platform, CallbackConnected,
                          lambda e: e.callback_id == request.callback_id)
        assert connected.outbound_call_id == outbound
        decision = first(platform, RoutingDecision, lambda e: e.call_id == outbound)
        assert decision.agent_id == agent
        answered = first(platform, CallAnswered, lambda e: e.call_id == outbound)
        assert answered.agent_id == agent
        # The customer kept the original place: the wait counts from the first enqueue,
        # which was before the agent came free (the outbound call was queued after).
        assert answered.wait_seconds >= agent_free_at - queued.enqueued_at.timestamp()
        wait_sipp(customer, customer_scenario, timeout=120)  # answered, talked, hung up
        wait_sipp(phone, agent_scenario, timeout=60)  # the node hung the agent up after
        completed = first(platform, CallCompleted, lambda e: e.call_id == outbound)
        assert (completed.ended_by, completed.agent_id) == ("caller", agent)
        assert completed.talk_seconds > 0
    finally:
        for proc in (calling, customer, phone):
            if proc.poll() is None:
                proc.kill()
    final = _poll(lambda: _connected(platform, request.callback_id), 60, platform.logs)
    assert final.outcome == "connected" and final.attempt == 1
    assert final.connected_at is not None and final.connected_at >= final.requested_at
    # Exactly one dial command for this callback: every record on the topic, read.
    reader = platform.reader(DialCallback)
    try:
        total = sum(high - low for low, high in (
            reader.consumer.get_watermark_offsets(tp, timeout=10)
            for tp in reader.consumer.assignment()))
        reader.poll_until(lambda evs: len(evs) >= total or None, 30)
        assert [e.data.callback_id for e in reader.events
                if isinstance(e.data, DialCallback)] == [request.callback_id]
    finally:
        reader.close()
    # The scheduler's figures on the SLA topic count this callback for its queue.
    # (Summed over intervals: the flow may straddle a quarter hour.)
    sla = platform.reader(CallbackInterval)
    try:
        def totals(events: list[Event]) -> tuple[int, int, int] | None:
            latest = {e.data.interval_start: e.data for e in events
                      if isinstance(e.data, CallbackInterval) and e.data.tenant == TENANT
                      and e.data.queue == QUEUE and e.data.site == "site-a"}
            summed = tuple(sum(getattr(f, name) for f in latest.values())
                           for name in ("requested", "dialled", "connected"))
            return summed if summed[2] >= 1 else None  # type: ignore[return-value]
        assert sla.poll_until(totals, 60, describe=platform.logs) == (1, 1, 1)
    finally:
        sla.close()
    print(f"callback end to end in {time.monotonic() - started:.1f} s")


def _connected(platform: Platform, callback_id: str) -> Any:
    cb = platform.store.get(TENANT, callback_id, serial=True)
    return cb if cb is not None and cb.status is Status.CONNECTED else None


def _poll(read: Callable[[], T | None], timeout: float, describe: Callable[[], str]) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value is not None:
            return value
        assert time.monotonic() < deadline, describe()
        time.sleep(0.2)  # Cassandra has no change notification to wait on
