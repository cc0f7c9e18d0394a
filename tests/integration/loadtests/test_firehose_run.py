"""A short headless Locust run of the event firehose against real Kafka and a real
stream worker: the streams route the firehose's callers, Locust records no error, and
the report's service levels come from the SLA topic the worker published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from devstack.kafka import KafkaCluster
from helpers.streams_worker import StreamWorker, free_port
from hotline_events.catalog import default_catalog
from hotline_events.topics import ensure_topics

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
LOCUSTFILE = ROOT / "loadtests/src/hotline_loadtests/locustfile.py"
TENANTS = ROOT / "streams/config-examples"


def test_a_short_firehose_run_is_routed_and_reported_from_the_sla_topic(
    kafka_site_a: KafkaCluster, tmp_path: Path,
) -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"lt{run}."
    ensure_topics(kafka_site_a.bootstrap, default_catalog().prefixed(prefix),
                  replication_factor=1)
    port = free_port()
    env = {**os.environ, "HOTLINE_KAFKA_SITE_A": kafka_site_a.bootstrap,
           "HOTLINE_STREAMS_APP_ID": f"streams-lt-{run}", "HOTLINE_TOPIC_PREFIX": prefix,
           "HOTLINE_TENANTS_DIR": str(TENANTS), "HOTLINE_STREAMS_WEB_PORT": str(port),
           "HOTLINE_STREAMS_DATA_DIR": str(tmp_path / "streams")}
    worker = StreamWorker(env=env, log_path=tmp_path / "worker", port=port)
    worker.start()
    try:
        report_dir = tmp_path / "report"
        locust = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
             "--users", "1", "--spawn-rate", "1", "--only-summary", "--loglevel", "WARNING",
             "--hotline-kafka", kafka_site_a.bootstrap, "--hotline-topic-prefix", prefix,
             "--hotline-shape", "steady", "--hotline-base-rate", "2",
             "--hotline-duration", "15", "--hotline-agents", "8", "--hotline-talk", "3",
             "--hotline-patience", "5", "--hotline-wrap-up", "1",
             "--hotline-report-dir", str(report_dir)],
            capture_output=True, text=True, timeout=300, env=env)
        assert locust.returncode == 0, locust.stdout[-3000:] + locust.stderr[-3000:]
    finally:
        worker.stop()
    report = json.loads((report_dir / "report.json").read_text())
    assert (report_dir / "report.html").read_text().count("<svg") == 1
    stages = {(s["kind"], s["name"]): s for s in report["stages"]}
    assert all(s["failures"] == 0 for s in stages.values()), stages
    routed = stages[("route", "queued→decision")]["count"]
    assert routed >= 10, f"only {routed} callers were routed: {stages}"
    queues = {q["queue"]: q for q in report["queues"]}
    assert set(queues) <= {"general", "cards"} and queues, report["queues"]
    offered = sum(q["offered"] for q in queues.values())
    answered = sum(q["answered"] for q in queues.values())
    # The figures are the worker's (SLA topic): every routed caller was offered there.
    assert offered >= routed and answered >= 1, (offered, answered, routed)
    assert any(q["service_level"] is not None for q in queues.values())
    assert any(s["arrivals_per_s"] > 0 for s in report["timeline"])
