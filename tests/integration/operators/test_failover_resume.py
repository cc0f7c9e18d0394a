"""A crash mid-failover: the operator dies right after a step, a new one finishes the job.

One site (site-a) on real Kafka and the real API server, with a real witness; its peer
site-b never beats and its probe port is closed, so site-a takes it over at once.
The first operator process exits (test hook) right after recording the `scaled` step;
the second resumes: the adoption command and the SiteFailover go out once, the split
is not published twice, and status lists every step done under the same lease.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from kubernetes import client
from kubernetes.client import ApiClient

from devstack.kafka import KafkaCluster
from devstack.pytest_plugin import KubeTools
from helpers.kafka_io import EventReader
from helpers.kube import new_namespace
from helpers.operator_process import OperatorProcess, poll, site_status
from helpers.sites import host_network_site
from hotline_events.catalog import default_catalog
from hotline_events.envelope import Event
from hotline_events.models.sites import (
    SiteAdoptionRequested,
    SiteFailover,
    SiteTrafficSplit,
)
from hotline_events.topics import ensure_topics
from hotline_operators import crds
from hotline_operators.failover.handlers import EXIT_AFTER_STEP_ENV, EXIT_TEST_HOOK
from hotline_operators.failover.logic import FAILOVER_STEPS

pytestmark = pytest.mark.integration

TOPIC = default_catalog().topic_for_type(SiteFailover.TYPE).name


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lonely_site(operator_api: ApiClient, kafka_site_a: KafkaCluster,
                witness: str) -> dict[str, Any]:
    ensure_topics(kafka_site_a.bootstrap)
    namespace = new_namespace(operator_api, "failover-resume")
    body = host_network_site()
    body["spec"].update({
        "kafka": {"bootstrapServers": kafka_site_a.bootstrap},
        "peerProbes": [{"site": "site-b", "url": f"http://127.0.0.1:{closed_port()}/"}],
        "witness": {"url": witness},
        "timings": {"heartbeatIntervalSeconds": 1, "peerTimeoutSeconds": 3,
                    "holdDownSeconds": 600},
        "edge": {"dispatcherConfigMap": "site-a-edge", "destinations": [
            {"site": "site-a", "address": "127.0.1.2:5071", "name": "mn-a-0.w1"},
            {"site": "site-b", "address": "127.0.2.2:5071", "name": "mn-b-0.w1"}]},
    })
    return {"namespace": namespace, "body": body}


def failed_over(status: dict[str, Any]) -> bool:
    return any(c["type"] == "FailedOver" and c["status"] == "True"
               for c in status.get("conditions") or [])


def all_events(bootstrap: str) -> list[Event]:
    """Every record on the failover topic, up to its current end."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    _, end = probe.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=10)
    probe.close()
    reader = EventReader(bootstrap, TOPIC)
    try:
        return reader.poll_until(lambda events: events if len(events) >= end else None, 60)
    finally:
        reader.close()


def test_a_failover_interrupted_after_a_step_is_resumed_without_repeats(
    lonely_site: dict[str, Any], operator_api: ApiClient, kube: KubeTools,
    kafka_site_a: KafkaCluster, processes: list[OperatorProcess], tmp_path: Path,
) -> None:
    namespace = lonely_site["namespace"]
    processes.append(OperatorProcess(kube.kubeconfig, [namespace], "crashing", tmp_path,
                                     env={EXIT_AFTER_STEP_ENV: "scaled"}))
    client.CustomObjectsApi(operator_api).create_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, crds.SITES, lonely_site["body"])
    first = processes[0]
    assert first.proc.wait(timeout=120) == EXIT_TEST_HOOK, first.output()[-3000:]

    half = site_status(operator_api, namespace)
    token = half["fencingToken"]
    assert half["failedPeers"] == ["site-b"]
    progress = half["failovers"]["site-b"]
    assert (progress["token"], progress["done"]) == (token, ["split-written", "scaled"])
    assert sorted(progress["at"]) == ["scaled", "split-written"]
    assert not failed_over(half)
    media = client.AppsV1Api(operator_api).read_namespaced_deployment("site-a-media-nodes",
                                                                      namespace)
    assert media.spec.replicas == 4, "scaled before the crash"

    processes.append(OperatorProcess(kube.kubeconfig, [namespace], "resumed", tmp_path))
    def finished() -> dict[str, Any] | None:
        status = site_status(operator_api, namespace)
        steps = status["failovers"]["site-b"]["done"]
        return status if failed_over(status) and len(steps) == len(FAILOVER_STEPS) else None

    done = poll(finished, "the restarted operator finishing the failover", timeout=120)
    progress = done["failovers"]["site-b"]
    assert (progress["token"], progress["done"]) == (token, list(FAILOVER_STEPS))
    assert progress["decidedAt"] <= progress["at"]["split-written"] <= progress["at"]["announced"]
    assert done["fencingToken"] == token, "the same lease, not a second takeover"
    assert "resuming the takeover of site-b" in processes[1].output()

    ours = [e.data for e in all_events(kafka_site_a.bootstrap)
            if getattr(e.data, "fencing_token", None) == token]
    kinds = sorted(type(e).__name__ for e in ours)
    assert kinds == ["SiteAdoptionRequested", "SiteFailover", "SiteTrafficSplit"], kinds
    split = next(e for e in ours if isinstance(e, SiteTrafficSplit))
    assert split.reason == "failover" and split.destinations == 1
    adoption = next(e for e in ours if isinstance(e, SiteAdoptionRequested))
    assert (adoption.site, adoption.adopted_by) == ("site-b", "site-a")
    edge = client.CoreV1Api(operator_api).read_namespaced_config_map("site-a-edge", namespace)
    assert "mn-b-0.w1" not in edge.data["dispatcher.list"]
