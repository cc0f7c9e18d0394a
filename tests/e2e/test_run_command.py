"""The README's run command: the single stack, then Hotline on it, then Ctrl-C.

``./hotline run`` must bring the stack up healthy, start the platform (Kamailio edge,
media-node pool, stream worker, callback scheduler, and Locust's steady shape of SIP
callers and agent users), produce real call events on
Kafka from SIPp calls through the edge, route them in the stream worker, and stop
every process it started on Ctrl-C.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from devstack.settings import ENV_OVERRIDES
from helpers.kafka_io import EventReader
from hotline_events.catalog import default_catalog
from hotline_events.envelope import Event
from hotline_events.models.calls import CallAnswered, CallCompleted, CallOffered, CallQueued
from hotline_events.models.routing import RoutingDecision

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_hotline_run_starts_the_stack_and_the_platform_with_traffic_and_ctrl_c_stops_it(
    kafka_site_a: KafkaCluster, cassandra_dc_a: CassandraNode,
) -> None:
    # A clean environment: the command must start its own servers, not reuse ours,
    # and must not collide with the ones this test session is running.
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and k != "KUBECONFIG"}
    run = subprocess.Popen([str(REPO / "hotline"), "run", "--for", "600"], cwd=REPO, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)  # its own group: Ctrl-C reaches it all
    lines: list[str] = []
    bootstrap: list[str] = []
    announced = threading.Event()

    def read() -> None:
        assert run.stdout is not None
        for line in run.stdout:
            lines.append(line)
            found = re.match(r"export HOTLINE_KAFKA_SITE_A=(\S+)", line)
            if found:
                bootstrap.append(found.group(1))
                announced.set()
        announced.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert announced.wait(480) and bootstrap, "".join(lines)[-5000:]
        out = "".join(lines)
        assert "single stack healthy" in out
        for name in ("kafka site-a", "cassandra dc-a", "kube-apiserver", "SIP edge (Kamailio)",
                     "media node mn-a-0", "streams: http://", "callbacks: http://",
                     "traffic: Locust, steady shape"):
            assert name in out, f"{name} missing from the printed addresses:\n{out}"
        assert re.search(r"export HOTLINE_CASSANDRA_DC_A=127\.\d+\.\d+\.2:9042", out)
        assert f"HOTLINE_KAFKA_SITE_A={kafka_site_a.bootstrap}" not in out
        assert f"HOTLINE_CASSANDRA_DC_A={cassandra_dc_a.contact_point}" not in out
        assert "created cc.call.events (12 partitions" in out  # topics before "healthy"

        # SIPp callers through the edge reach the IVR and a queue; the stream worker
        # routes them to the simulated agents.
        catalog = default_catalog()
        calls = EventReader(bootstrap[0], catalog.topic_for_type(CallOffered.TYPE).name)
        try:
            def queued_call(events: list[Event]) -> str | None:
                offered = {e.subject for e in events if isinstance(e.data, CallOffered)
                           and e.data.media_node.startswith("mn-a-0.w")}
                return next((e.subject for e in events
                             if isinstance(e.data, CallQueued) and e.subject in offered), None)

            call_id = calls.poll_until(queued_call, 180)
        finally:
            calls.close()
        assert call_id

        # End to end: a call rings the agent the stream worker routed it to (a SIPp UAS
        # phone), is bridged, and completes when the SIPp caller hangs up.
        calls = EventReader(bootstrap[0], catalog.topic_for_type(CallOffered.TYPE).name)
        try:
            def bridged_and_done(events: list[Event]) -> tuple[CallAnswered, CallCompleted] | None:
                answered = {e.subject: e.data for e in events if isinstance(e.data, CallAnswered)}
                return next(((answered[e.subject], e.data) for e in events
                             if isinstance(e.data, CallCompleted) and e.subject in answered), None)

            answered, completed = calls.poll_until(bridged_and_done, 240)
        finally:
            calls.close()
        assert completed.agent_id == answered.agent_id and completed.talk_seconds > 0
        decisions = EventReader(bootstrap[0], catalog.topic_for_type(RoutingDecision.TYPE).name)
        try:
            decision = decisions.poll_until(
                lambda events: next((e.data for e in events
                                     if isinstance(e.data, RoutingDecision)
                                     and e.data.call_id == answered.call_id), None), 60)
        finally:
            decisions.close()
        assert (decision.tenant, decision.agent_id) == ("demo-bank", answered.agent_id)
        assert re.fullmatch(r"lt-\w+-agent-\d+", decision.agent_id)  # a Locust agent user

        # Ctrl-C at the terminal: SIGINT to the foreground process group.
        os.killpg(run.pid, signal.SIGINT)
        assert run.wait(180) == 0, "".join(lines)[-5000:]
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(30)
    reader.join(30)  # it ends at the pipe's end: every line of the finished run is in
    out = "".join(lines)
    assert "devstack: stopped" in out
    # Locust wrote the run's report when Ctrl-C ended the steady shape.
    report = re.search(r"report on Ctrl-C in (\S+)", out)
    assert report and (Path(report.group(1)) / "report.html").is_file(), out[-5000:]
    pids = [int(p) for p in re.findall(r"pid (\d+)", out)]
    assert len(pids) >= 9, out  # 4 servers (+ etcd) and 5 platform processes
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"pid {pid} outlived ./hotline run"
