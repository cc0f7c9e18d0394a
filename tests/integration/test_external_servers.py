"""Servers named in the environment are used as they are, never started again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from devstack.pytest_plugin import KubeTools
from devstack.settings import ExternalEndpoints
from devstack.stack import Stack

pytestmark = pytest.mark.integration


def test_the_single_profile_attaches_to_running_servers(
    kafka_site_a: KafkaCluster, cassandra_dc_a: CassandraNode, kube: KubeTools,
) -> None:
    external = ExternalEndpoints.from_environ({
        "HOTLINE_KAFKA_SITE_A": kafka_site_a.bootstrap,
        "HOTLINE_CASSANDRA_DC_A": cassandra_dc_a.contact_point,
        "HOTLINE_KUBECONFIG": str(kube.kubeconfig),
    })
    stack = Stack(external=external)
    try:
        stack.up("single")
        assert [p for s in stack.servers() for p in s.processes()] == [], "nothing started"
        assert stack.kafka["site-a"].bootstrap == kafka_site_a.bootstrap
        assert stack.health() == {s.name: None for s in stack.servers()}
    finally:
        stack.down()


def test_devstack_check_reports_each_named_server(kafka_site_a: KafkaCluster) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_KAFKA_SITE_A"] = kafka_site_a.bootstrap
    env["HOTLINE_KAFKA_SITE_B"] = "127.0.0.1:9"  # discard port: nothing answers there
    result = subprocess.run([sys.executable, "-m", "devstack.cli", "check"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"ok   kafka site-a ({kafka_site_a.bootstrap})" in result.stdout
    assert ("FAIL kafka site-b (127.0.0.1:9)\n"
            "kafka site-b (127.0.0.1:9) is not answering") in result.stdout


def test_devstack_check_without_servers_says_what_to_set() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    result = subprocess.run([sys.executable, "-m", "devstack.cli", "check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "HOTLINE_KAFKA_SITE_A" in result.stderr
