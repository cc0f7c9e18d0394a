"""``./hotline loadtest`` end to end: a short headless run of SIP callers (SIPp through
the Kamailio edge and the media-node pool) and agent users (the streams' agent API,
the SIPp phone) against the real platform on the session's Kafka.

Proves: calls complete end to end (answered by an agent, talked, hung up), Locust
records no error, the report exists, and its service-level figures are the ones the
stream worker published on the SLA topic.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from hotline_events.catalog import default_catalog
from hotline_loadtests.report import adapters, logic

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_a_short_headless_load_test_places_real_calls_and_reports_the_sla_topic(
    kafka_site_a: KafkaCluster, cassandra_dc_a: CassandraNode, sipp: Path, tmp_path: Path,
) -> None:
    report_dir = tmp_path / "report"
    env = {**os.environ, "HOTLINE_KAFKA_SITE_A": kafka_site_a.bootstrap,
           "HOTLINE_CASSANDRA_DC_A": cassandra_dc_a.contact_point}
    run = subprocess.run(
        [str(REPO / "hotline"), "loadtest", "--headless", "--shape", "steady",
         "--duration", "30", "--base-rate", "0.25", "--agents", "2", "--talk", "5",
         "--patience", "30", "--wrap-up", "2", "--report-dir", str(report_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=420)
    out = run.stdout[-6000:] + run.stderr[-6000:]
    assert run.returncode == 0, out
    assert "loadtest: stopped" in run.stdout, out

    assert (report_dir / "report.html").read_text().count("<svg") == 1
    report = json.loads((report_dir / "report.json").read_text())
    stages = {(s["kind"], s["name"]): s for s in report["stages"]}
    assert all(s["failures"] == 0 for s in stages.values()), stages
    assert ("sip call", "call failed") not in stages
    answered = stages[("sip call", "call answered")]["count"]
    assert answered >= 3, stages
    for stage in ("setup INVITE→200", "IVR→queue", "wait→answered", "talk"):
        assert stages[("sip call", stage)]["count"] >= answered, (stage, stages)
    assert stages[("sip call", "talk")]["median_ms"] >= 3000  # talk is at least 3 s
    assert stages[("POST", "login")]["count"] == 2
    assert stages[("agent", "call handled (busy→wrap-up)")]["count"] >= 1
    assert stages[("POST", "wrap-up-done")]["count"] >= 1

    # The service levels are the stream worker's, read back from the SLA topic: the same
    # queues, never more than the topic holds, and every answered call counted there.
    queues = {q["queue"]: q for q in report["queues"]}
    topic = {q.queue: q for q in logic.queue_outcomes(
        i for i in adapters.sla_intervals(kafka_site_a.bootstrap, default_catalog(),
                                          report["started_at"] - 900)
        if i.tenant == "demo-bank")}
    assert queues and set(queues) == set(topic), (queues, topic)
    for name, q in queues.items():
        assert q["offered"] <= topic[name].offered and q["answered"] <= topic[name].answered
        assert q["service_level"] is not None
    assert sum(q.answered for q in topic.values()) >= answered
    assert sum(q["answered"] for q in queues.values()) >= answered - 1  # the last may be late
