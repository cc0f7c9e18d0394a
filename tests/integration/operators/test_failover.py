"""Two sites, real Kafka + MirrorMaker 2 + witness + API server: failover and failback.

site-a and site-b each publish heartbeats on their own Kafka; MirrorMaker 2 carries
them across; each site's operator (one kopf process serving both namespaces) also
probes its peer over HTTP. site-b dies (its resource is deleted and its probe stops
answering) while forged heartbeats of it appear at site-a: site-a takes its traffic
with the witness's lease all the same, then hands it back after the hold-down once
site-b returns.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kubernetes import client, watch
from kubernetes.client import ApiClient

from devstack.kafka import KafkaCluster
from devstack.mirrormaker import MirrorMaker
from devstack.peer_probe import PeerHealthEndpoint
from devstack.pytest_plugin import KubeTools
from helpers.kafka_io import EventReader
from helpers.kube import new_namespace
from helpers.sites import example_site
from hotline_events.catalog import default_catalog
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.sites import (
    SiteAdoptionRequested,
    SiteFailback,
    SiteFailover,
    SiteHeartbeat,
    SiteTrafficSplit,
)
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics
from hotline_operators import crds

pytestmark = pytest.mark.integration


def site_body(site: str, peer: str, kafka: KafkaCluster, witness: str,
              peer_probe: str) -> dict[str, Any]:
    body = example_site()
    body["metadata"]["name"] = site
    body["spec"].update({
        "site": site, "peers": [peer],
        "kafka": {"bootstrapServers": kafka.bootstrap},
        "peerProbes": [{"site": peer, "url": peer_probe}],
        "witness": {"url": witness},
        "timings": {"heartbeatIntervalSeconds": 1, "peerTimeoutSeconds": 3,
                    "holdDownSeconds": 4},
        # Each edge may send calls to both sites' workers; its own come first.
        "edge": {"dispatcherConfigMap": f"{site}-edge", "destinations": [
            {"site": "site-a", "address": "127.0.1.2:5071", "name": "mn-a-0.w1"},
            {"site": "site-b", "address": "127.0.2.2:5071", "name": "mn-b-0.w1"}]},
    })
    return body


def dispatcher_list(api: ApiClient, namespace: str, site: str) -> str:
    data = client.CoreV1Api(api).read_namespaced_config_map(f"{site}-edge", namespace).data
    return str(data["dispatcher.list"])


@pytest.fixture(scope="module")
def two_sites(kube: KubeTools, operator_api: ApiClient, kafka_site_a: KafkaCluster,
              kafka_site_b: KafkaCluster, mirrormaker2: MirrorMaker,
              witness: str) -> Iterator[dict[str, Any]]:
    for cluster in (kafka_site_a, kafka_site_b):
        ensure_topics(cluster.bootstrap)
    probes = {"site-a": PeerHealthEndpoint(), "site-b": PeerHealthEndpoint()}
    namespaces = {"site-a": new_namespace(operator_api, "failover-a"),
                  "site-b": new_namespace(operator_api, "failover-b")}
    kafka = {"site-a": kafka_site_a, "site-b": kafka_site_b}
    bodies = {s: site_body(s, p, kafka[s], witness, probes[p].url)
              for s, p in (("site-a", "site-b"), ("site-b", "site-a"))}
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig))
    runner = KopfRunner(["run", "--standalone", "-n", namespaces["site-a"],
                         "-n", namespaces["site-b"], "-m", "hotline_operators.operator"],
                        timeout=60)
    objects = client.CustomObjectsApi(operator_api)
    with runner:
        for site, body in bodies.items():
            objects.create_namespaced_custom_object(crds.GROUP, crds.VERSION,
                                                    namespaces[site], crds.SITES, body)
        yield {"namespaces": namespaces, "probes": probes, "bodies": bodies,
               "objects": objects, "kafka": kafka}
    monkeypatch.undo()
    assert runner.exception is None, runner.exception


def wait_condition(objects: client.CustomObjectsApi, namespace: str, kind: str, status: str,
                   timeout: int = 60) -> dict[str, Any]:
    for event in watch.Watch().stream(objects.list_namespaced_custom_object, crds.GROUP,
                                      crds.VERSION, namespace, crds.SITES,
                                      timeout_seconds=timeout):
        obj: dict[str, Any] = event["object"]
        for c in (obj.get("status") or {}).get("conditions") or []:
            if c["type"] == kind and c["status"] == status:
                return obj
    raise AssertionError(f"{kind}={status} not reached in {namespace} within {timeout}s")


def wait_deleted(objects: client.CustomObjectsApi, namespace: str, name: str,
                 timeout: int = 60) -> None:
    listing = objects.list_namespaced_custom_object(crds.GROUP, crds.VERSION, namespace,
                                                    crds.SITES)
    if not any(o["metadata"]["name"] == name for o in listing["items"]):
        return
    for event in watch.Watch().stream(objects.list_namespaced_custom_object, crds.GROUP,
                                      crds.VERSION, namespace, crds.SITES,
                                      resource_version=listing["metadata"]["resourceVersion"],
                                      timeout_seconds=timeout):
        if event["type"] == "DELETED" and event["object"]["metadata"]["name"] == name:
            return
    raise AssertionError(f"{name} in {namespace} was not deleted within {timeout}s")


def site_events(bootstrap: str, wanted: type[EventModel], count: int, token: int,
                timeout: float = 30) -> list[Any]:
    """This takeover's events (by its lease): other tests' sites share the topic."""
    reader = EventReader(bootstrap, default_catalog().topic_for_type(wanted.TYPE).name)

    def enough(events: list[Event]) -> list[Any] | None:
        found = [e.data for e in events if isinstance(e.data, wanted)
                 and getattr(e.data, "fencing_token", None) == token]
        return found if len(found) >= count else None

    try:
        return reader.poll_until(enough, timeout)
    finally:
        reader.close()


def test_site_loss_fails_over_and_recovery_fails_back(
    two_sites: dict[str, Any], operator_api: ApiClient, caplog: pytest.LogCaptureFixture,
) -> None:
    objects, ns = two_sites["objects"], two_sites["namespaces"]
    # Both sites see each other's mirrored heartbeats first.
    for site in ("site-a", "site-b"):
        wait_condition(objects, ns[site], "PeerHealthy", "True", timeout=90)

    # site-b dies: its operator stops beating (resource gone) and its probe fails.
    lost_at = time.monotonic()
    objects.delete_namespaced_custom_object(crds.GROUP, crds.VERSION, ns["site-b"],
                                            crds.SITES, "site-b")
    two_sites["probes"]["site-b"].alive = False
    # Someone with access to site-a's Kafka forges site-b's heartbeats where site-a reads
    # them: one dated an hour ahead, one from a process that is not site-b's operator.
    # Neither keeps the dead site "alive".
    forged = EventProducer(two_sites["kafka"]["site-a"].bootstrap,
                           "//hotline/site-b/operator/forged",
                           catalog=default_catalog().prefixed("site-b."))
    beat = SiteHeartbeat(site="site-b", sequence=10**6, state="active", serving=("site-b",),
                         traffic_share=0.5, fencing_token=1)
    forged.publish_event(Event(data=beat, source=forged.source,
                               time=datetime.now(UTC) + timedelta(hours=1)))
    forged.publish_event(Event(data=beat, source="//hotline/site-b/media-node/mn-1"))
    forged.flush(10)
    site_a = wait_condition(objects, ns["site-a"], "FailedOver", "True", timeout=60)
    took = time.monotonic() - lost_at
    print(f"\nfailover: site-b lost -> site-a FailedOver in {took:.1f} s")
    assert site_a["status"]["trafficShare"] == 100
    assert "ignoring heartbeat" in caplog.text and "ahead of this site's clock" in caplog.text
    assert "is not site-b's operator" in caplog.text
    assert site_a["status"]["failedPeers"] == ["site-b"]
    media = client.AppsV1Api(operator_api).read_namespaced_deployment(
        "site-a-media-nodes", ns["site-a"])
    assert media.spec.replicas == 4, "scaled to the failover profile"
    token = site_a["status"]["fencingToken"]
    failovers = site_events(two_sites["kafka"]["site-a"].bootstrap, SiteFailover, 1, token)
    assert [(e.site, e.taken_over_by) for e in failovers] == [("site-b", "site-a")]
    # The edge now sends every call to site-a's workers; the split and the adoption
    # command went out under the same lease.
    edge = dispatcher_list(operator_api, ns["site-a"], "site-a")
    assert "mn-a-0.w1" in edge and "mn-b-0.w1" not in edge
    split = site_events(two_sites["kafka"]["site-a"].bootstrap, SiteTrafficSplit, 1, token)[0]
    assert {s.site: s.share for s in split.shares} == {"site-a": 1.0, "site-b": 0.0}
    assert (split.reason, split.fencing_token, split.destinations) == ("failover", token, 1)
    adoption = site_events(two_sites["kafka"]["site-a"].bootstrap, SiteAdoptionRequested, 1,
                           token)
    assert [(a.site, a.adopted_by, a.fencing_token) for a in adoption] == [
        ("site-b", "site-a", token)]

    # site-b comes back; site-a hands its traffic back after the hold-down.
    wait_deleted(objects, ns["site-b"], "site-b")  # its operator let go of it
    two_sites["probes"]["site-b"].alive = True
    objects.create_namespaced_custom_object(crds.GROUP, crds.VERSION, ns["site-b"],
                                            crds.SITES, two_sites["bodies"]["site-b"])
    back = wait_condition(objects, ns["site-a"], "FailedOver", "False", timeout=90)
    assert back["status"]["trafficShare"] == 50
    assert back["status"]["failedPeers"] == []
    failbacks = site_events(two_sites["kafka"]["site-a"].bootstrap, SiteFailback, 1, token)
    assert failbacks[0].healthy_for_seconds >= 4
    assert "mn-b-0.w1" in dispatcher_list(operator_api, ns["site-a"], "site-a")
    splits = site_events(two_sites["kafka"]["site-a"].bootstrap, SiteTrafficSplit, 2, token)
    assert [s.reason for s in splits] == ["failover", "failback"]
    assert {s.site: s.share for s in splits[1].shares} == {"site-a": 0.5, "site-b": 0.5}
