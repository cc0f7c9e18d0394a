"""A media-node pool behind its Kamailio edge, on real processes and a real Kafka.

One pool (2 workers, its own Kamailio) for the module: a SIGTERMed worker leaves the
edge's set at once and gets no new call while its active call finishes; a killed
worker's call is reported lost on Kafka, the worker is restarted and the edge takes
it back; malformed SIP and a flood from a non-trunk address leave everything healthy.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_nodes_support import CallReader, render, run_sipp, sipp_command, wait_for_event
from pool_support import Pool, http_get, metric, poll, start_pool

from devstack.kafka import KafkaCluster
from hotline_events.catalog import Catalog
from hotline_events.models.calls import CallAbandoned, CallCompleted, CallOffered
from hotline_events.models.sites import MediaNodeHeartbeat

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pool(kafka_site_a: KafkaCluster, catalog: Catalog, prompt_cache: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    p = start_pool(kafka_site_a.bootstrap, catalog, prompt_cache,
                   tmp_path_factory.mktemp("pool"), "mn-pool", 2, "--drain-seconds", "30")
    yield p
    assert p.stop() == 0, p.describe()


def hold_call(sipp: Path, tmp_path: Path, pool: Pool, caller: str,
              hold_ms: int) -> subprocess.Popen[str]:
    scenario = render("caller_holds.xml", tmp_path, caller=caller, hold_ms=str(hold_ms))
    return subprocess.Popen(sipp_command(sipp, scenario, pool.edge_port, service="800100",
                                         timeout_s=hold_ms // 1000 + 30),
                            cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)


def speed_dial(sipp: Path, tmp_path: Path, pool: Pool, caller: str) -> None:
    run_sipp(sipp, render("speed_dial_system_bye.xml", tmp_path, caller=caller,
                          bye_timeout_ms="20000"), pool.edge_port, service="800101")


def offered_on(call_events: CallReader, caller: str) -> CallOffered:
    first = call_events.wait_for(caller, lambda ev: bool(ev), timeout=60)[0]
    assert isinstance(first, CallOffered)
    return first


def test_the_node_and_its_workers_heartbeat_capacity_and_load(
        pool: Pool, kafka_site_a: KafkaCluster, catalog: Catalog) -> None:
    node = wait_for_event(kafka_site_a.bootstrap, catalog, MediaNodeHeartbeat,
                          lambda e: e.media_node == pool.node  # type: ignore[attr-defined]
                          and e.capacity == 8)  # type: ignore[attr-defined]
    assert isinstance(node, MediaNodeHeartbeat)
    assert (node.workers, node.active_calls, node.draining) == (2, 0, False)
    worker = wait_for_event(kafka_site_a.bootstrap, catalog, MediaNodeHeartbeat,
                            lambda e: e.media_node == f"{pool.node}.w1")  # type: ignore[attr-defined]
    assert isinstance(worker, MediaNodeHeartbeat)
    assert (worker.capacity, worker.workers, worker.draining) == (4, 1, False)
    metrics = pool.metrics()
    assert metric(metrics, "hotline_media_capacity_calls") == 8
    assert metric(metrics, "hotline_media_ready") == 1


def test_a_draining_worker_leaves_the_edge_and_finishes_its_call(
        pool: Pool, sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    holder = hold_call(sipp, tmp_path, pool, "+4915112340001", hold_ms=15000)
    draining = offered_on(call_events, "+4915112340001").media_node
    other = next(n for n in (f"{pool.node}.w0", f"{pool.node}.w1") if n != draining)
    pid = pool.worker_pid(draining)
    os.kill(pid, signal.SIGTERM)
    # The pool takes it out of Kamailio's set within seconds (reload, no probe wait).
    poll(f"{draining} out of the edge's set", lambda: draining not in pool.destinations(),
         10, pool.describe)
    for caller in ("+4915112340002", "+4915112340003"):
        speed_dial(sipp, tmp_path, pool, caller)
        assert offered_on(call_events, caller).media_node == other
    assert "rejected with 503" not in pool.log(draining), "the edge still sent it INVITEs"
    # Its active call ran to the caller's hang-up; then it exits and a fresh one joins.
    assert holder.wait(60) == 0
    ended = call_events.wait_for("+4915112340001", lambda ev: isinstance(ev[-1], CallAbandoned))
    assert ended[0].media_node == draining  # type: ignore[attr-defined]
    poll("the drained worker replaced and back in the edge's set",
         lambda: draining in pool.destinations() and pool.worker_pid(draining) != pid,
         90, pool.describe)


def test_a_killed_worker_s_call_is_reported_lost_and_the_worker_restarted(
        pool: Pool, sipp: Path, tmp_path: Path, call_events: CallReader,
        kafka_site_a: KafkaCluster, catalog: Catalog) -> None:
    restarts = metric(pool.metrics(), "hotline_media_worker_restarts_total")
    holder = hold_call(sipp, tmp_path, pool, "+4915112340011", hold_ms=60000)
    try:
        offered = offered_on(call_events, "+4915112340011")
        os.kill(pool.worker_pid(offered.media_node), signal.SIGKILL)
        lost = wait_for_event(kafka_site_a.bootstrap, catalog, CallCompleted,
                              lambda e: e.call_id == offered.call_id,  # type: ignore[attr-defined]
                              timeout=60)
        assert isinstance(lost, CallCompleted)
        assert (lost.disposition, lost.ended_by, lost.tenant) == (
            "media-node-lost", "system", "it-bank")
        poll("the killed worker restarted and back in the edge's set",
             lambda: metric(pool.metrics(), "hotline_media_worker_restarts_total") > restarts
             and metric(pool.metrics(), "hotline_media_workers") == 2
             and pool.destinations().count("DEST:") == 2, 90, pool.describe)
        assert metric(pool.metrics(), "hotline_media_calls_lost_total") >= 1
    finally:
        holder.kill()
        holder.wait(10)
    speed_dial(sipp, tmp_path, pool, "+4915112340012")  # the node still takes calls
    call_events.wait_for("+4915112340012", lambda ev: isinstance(ev[-1], CallCompleted))


def _invite(src_port: int, dst_port: int, body: str = "v=0\r\n") -> bytes:
    branch = uuid.uuid4().hex
    return (f"INVITE sip:800101@127.0.0.1:{dst_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.2:{src_port};branch=z9hG4bK{branch}\r\n"
            f"From: <sip:+4915199999999@127.0.0.2>;tag={branch[:8]}\r\n"
            f"To: <sip:800101@127.0.0.1>\r\nCall-ID: {branch}\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:x@127.0.0.2:{src_port}>\r\nMax-Forwards: 70\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"
            ).encode()


MALFORMED = [
    b"INVITE\r\n\r\n",
    b"INVITE sip:800101@127.0.0.1 SIP/2.0\r\nVia: garbage\r\nContent-Length: 99999\r\n\r\nx",
    b"\x00\xff" * 700,
    b"SIP/2.0 200 OK\r\nCSeq: banana\r\n\r\n",
    b"INVITE sip:800101@127.0.0.1 SIP/2.0\r\n" + b"X-Long: " + b"a" * 60000 + b"\r\n\r\n",
]


def test_malformed_sip_and_a_non_trunk_flood_leave_the_node_healthy(
        pool: Pool, sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    workers = {name: pool.worker_pid(name) for name in (f"{pool.node}.w0", f"{pool.node}.w1")}
    worker_ports = [int(line.split(":")[-1]) for line in pool.destinations().splitlines()
                    if "URI: sip:" in line]
    assert len(worker_ports) == 2
    refused = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.2", 0))  # loopback, but not an allow-listed trunk
        s.settimeout(0.05)
        port = s.getsockname()[1]
        for target in (pool.edge_port, *worker_ports):
            for garbage in MALFORMED:
                s.sendto(garbage, ("127.0.0.1", target))
        for i in range(300):  # a bounded flood of well-formed INVITEs from a non-trunk
            s.sendto(_invite(port, pool.edge_port), ("127.0.0.1", pool.edge_port))
            if i % 3 == 0:
                s.sendto(_invite(port, worker_ports[i % 2]), ("127.0.0.1", worker_ports[i % 2]))
            try:
                while True:
                    reply = s.recv(65535)
                    refused += reply.startswith(b"SIP/2.0 403")
            except OSError:
                pass
    assert refused > 0, "neither the edge nor the workers answered the flood with 403"
    assert {name: pool.worker_pid(name) for name in workers} == workers, "a worker died"
    assert pool.proc.poll() is None
    assert http_get(pool.url("/healthz"))[0] == 200
    assert http_get(pool.url("/readyz"))[0] == 200
    total = metric(pool.metrics(), "hotline_media_calls_total")
    speed_dial(sipp, tmp_path, pool, "+4915112340021")  # and a real caller still gets through
    call_events.wait_for("+4915112340021", lambda ev: isinstance(ev[-1], CallCompleted))
    assert metric(pool.metrics(), "hotline_media_calls_total") == total + 1
