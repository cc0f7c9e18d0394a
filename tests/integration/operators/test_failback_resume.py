"""A crash mid-failback: the operator dies after handing back part of it, a new one finishes.

One site (site-a) on real Kafka, the real API server and a real witness; its peer
site-f is silent and fails its probe, so site-a takes it over. Then site-f comes back:
the test beats for it on site-a's Kafka as MirrorMaker 2 would (``site-f.`` topic) and
its probe answers. After the hold-down the first operator writes the hand-back split
and scales down, then exits (test hook); the second one resumes: SiteFailback goes out
once, the witness lease is released, and the takeover's records are gone.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition
from kubernetes import client
from kubernetes.client import ApiClient

from devstack.kafka import KafkaCluster
from devstack.peer_probe import PeerHealthEndpoint
from devstack.pytest_plugin import KubeTools
from helpers.kafka_io import EventReader, create_topic
from helpers.kube import new_namespace
from helpers.operator_process import OperatorProcess, poll, site_status
from helpers.sites import host_network_site
from hotline_events.catalog import default_catalog
from hotline_events.models.sites import SiteFailback, SiteHeartbeat, SiteTrafficSplit
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics
from hotline_operators import crds
from hotline_operators.failover.handlers import EXIT_AFTER_STEP_ENV, EXIT_TEST_HOOK

pytestmark = pytest.mark.integration

PEER = "site-f"  # a peer name of its own: no other test beats on its mirrored topic


class PeerBeats:
    """site-f's heartbeats, where site-a reads them (``site-f.cc.site.heartbeats``)."""

    def __init__(self, bootstrap: str) -> None:
        catalog = default_catalog().prefixed(f"{PEER}.")
        create_topic(bootstrap, catalog.topic_for_type(SiteHeartbeat.TYPE).name)
        self.producer = EventProducer(bootstrap, f"//hotline/{PEER}/operator/op-f",
                                      catalog=catalog)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        sequence = 0
        while not self.stopped.wait(0.5):  # the operator's own beat interval, halved
            sequence += 1
            self.producer.publish(SiteHeartbeat(site=PEER, sequence=sequence, state="active",
                                                serving=(PEER,), traffic_share=0.5,
                                                fencing_token=1))
            self.producer.flush(5)


def condition(status: dict[str, Any], kind: str) -> str | None:
    return next((c["status"] for c in status.get("conditions") or [] if c["type"] == kind),
                None)


def test_a_failback_interrupted_after_a_step_is_resumed_without_repeats(
    operator_api: ApiClient, kube: KubeTools, kafka_site_a: KafkaCluster, witness: str,
    processes: list[OperatorProcess], tmp_path: Path,
) -> None:
    ensure_topics(kafka_site_a.bootstrap)
    topic = default_catalog().topic_for_type(SiteFailback.TYPE).name
    namespace = new_namespace(operator_api, "failback-resume")
    probe, beats = PeerHealthEndpoint(alive=False), PeerBeats(kafka_site_a.bootstrap)
    body = host_network_site()
    body["spec"].update({
        "peers": [PEER],
        "kafka": {"bootstrapServers": kafka_site_a.bootstrap},
        "peerProbes": [{"site": PEER, "url": probe.url}],
        "witness": {"url": witness},
        "timings": {"heartbeatIntervalSeconds": 1, "peerTimeoutSeconds": 3,
                    "holdDownSeconds": 2},
        "edge": {"dispatcherConfigMap": "site-a-edge", "destinations": [
            {"site": "site-a", "address": "127.0.0.1:5071", "name": "mn-a-0.w1"},
            {"site": PEER, "address": "127.0.0.1:5072", "name": "mn-f-0.w1"}]},
    })
    try:
        processes.append(OperatorProcess(kube.kubeconfig, [namespace], "crashing", tmp_path,
                                         env={EXIT_AFTER_STEP_ENV: "failback:scaled"}))
        client.CustomObjectsApi(operator_api).create_namespaced_custom_object(
            crds.GROUP, crds.VERSION, namespace, crds.SITES, body)
        taken = poll(lambda: (lambda s: s if condition(s, "FailedOver") == "True" else None)(
            site_status(operator_api, namespace)), "site-a taking site-f over", 120)
        token = taken["failovers"][PEER]["token"]

        # site-f is back: beats and probe. After the hold-down the first operator hands
        # back two steps, then exits.
        beats.thread.start()
        probe.alive = True
        first = processes[0]
        assert first.proc.wait(timeout=120) == EXIT_TEST_HOOK, first.output()[-3000:]
        half = site_status(operator_api, namespace)
        progress = half["failbacks"][PEER]
        assert (progress["token"], progress["done"]) == (token, ["split-written", "scaled"])
        assert half["failedPeers"] == [PEER], "still recorded until the hand-back is done"
        assert half["trafficShare"] == 50
        assert condition(half, "FailedOver") == "True"
        media = client.AppsV1Api(operator_api).read_namespaced_deployment(
            "site-a-media-nodes", namespace)
        assert media.spec.replicas == 2, "back to the normal profile before the crash"
        edge = client.CoreV1Api(operator_api).read_namespaced_config_map("site-a-edge",
                                                                         namespace)
        assert "mn-f-0.w1" in edge.data["dispatcher.list"]
        assert PEER in requests.get(witness + "/leases", timeout=5).text, "not released yet"

        processes.append(OperatorProcess(kube.kubeconfig, [namespace], "resumed", tmp_path))
        done = poll(lambda: (lambda s: s if not s.get("failedPeers") else None)(
            site_status(operator_api, namespace)), "the restarted operator finishing", 120)
        assert condition(done, "FailedOver") == "False"
        assert not (done.get("failbacks") or {}).get(PEER)
        assert not (done.get("failovers") or {}).get(PEER)
        assert "resuming the failback of site-f" in processes[1].output()
        assert PEER not in requests.get(witness + "/leases", timeout=5).text
    finally:
        beats.stopped.set()
        probe.close()

    # Everything on the failover topic up to its end: each hand-back event once.
    probe_consumer = Consumer({"bootstrap.servers": kafka_site_a.bootstrap, "group.id": "unused"})
    _, end = probe_consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    probe_consumer.close()
    reader = EventReader(kafka_site_a.bootstrap, topic)
    try:
        events = reader.poll_until(lambda found: found if len(found) >= end else None, 60)
    finally:
        reader.close()
    handed = [e.data for e in events if getattr(e.data, "fencing_token", None) == token
              and isinstance(e.data, SiteFailback | SiteTrafficSplit)]
    assert sorted((type(e).__name__, getattr(e, "reason", "")) for e in handed) == [
        ("SiteFailback", ""), ("SiteTrafficSplit", "failback"), ("SiteTrafficSplit", "failover")]
