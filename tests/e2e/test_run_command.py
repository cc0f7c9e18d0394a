"""The README's run command brings the single stack up healthy and tears it down."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from devstack.settings import ENV_OVERRIDES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_hotline_run_starts_the_single_stack_and_stops_it(
    kafka_site_a: KafkaCluster, cassandra_dc_a: CassandraNode,
) -> None:
    # A clean environment: the command must start its own servers, not reuse ours,
    # and must not collide with the ones this test session is running.
    env = {k: v for k, v in os.environ.items() if k not in ENV_OVERRIDES and k != "KUBECONFIG"}
    result = subprocess.run([str(REPO / "hotline"), "run", "--for", "0"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "single stack healthy" in out
    for name in ("kafka site-a", "cassandra dc-a", "kube-apiserver"):
        assert name in out, f"{name} missing from the printed addresses:\n{out}"
    assert re.search(r"export HOTLINE_KAFKA_SITE_A=127\.0\.0\.1:\d+", out)
    assert re.search(r"export HOTLINE_CASSANDRA_DC_A=127\.\d+\.\d+\.2:9042", out)
    assert "export KUBECONFIG=" in out
    assert f"HOTLINE_KAFKA_SITE_A={kafka_site_a.bootstrap}" not in out
    assert f"HOTLINE_CASSANDRA_DC_A={cassandra_dc_a.contact_point}" not in out
    assert "devstack: stopped" in out
    # The catalog's topics are created on the site's Kafka before "healthy" is said.
    assert "created cc.call.events (12 partitions" in out
    pids = [int(p) for p in re.findall(r"pid (\d+)", out)]
    assert len(pids) == 4, out  # kafka, cassandra, etcd, kube-apiserver
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"pid {pid} outlived ./hotline run"
