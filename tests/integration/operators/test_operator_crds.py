"""The operator's CRDs on the real API server: good objects in, bad ones out by field."""

from __future__ import annotations

import copy
import subprocess
import uuid
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from devstack.pytest_plugin import KubeTools
from helpers.kube import new_namespace
from helpers.sites import example_site
from hotline_operators import crds

pytestmark = pytest.mark.integration

SITE = example_site()

QUEUE: dict[str, Any] = {
    "apiVersion": f"{crds.GROUP}/{crds.VERSION}",
    "kind": "ContactCenterQueue",
    "metadata": {"name": "acme-billing"},
    "spec": {"tenant": "acme", "queue": "billing", "skills": ["billing"],
             "serviceLevel": {"thresholdSeconds": 20, "targetPercent": 80},
             "overflow": [{"afterSeconds": 60, "skills": ["general"]}]},
}


@pytest.fixture(scope="module")
def api(operator_api: ApiClient) -> ApiClient:
    return operator_api


@pytest.fixture(scope="module")
def namespace(api: ApiClient) -> str:
    return new_namespace(api, "hotline-crds")


def create(api: ApiClient, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    plural = crds.SITES if body["kind"] == "ContactCenterSite" else crds.QUEUES
    created: dict[str, Any] = client.CustomObjectsApi(api).create_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, plural, body)
    return created


def rejection(api: ApiClient, namespace: str, body: dict[str, Any]) -> str:
    with pytest.raises(ApiException) as failure:
        create(api, namespace, body)
    assert failure.value.status == 422
    return str(failure.value.body)


def test_valid_site_and_queue_are_accepted_with_defaults(api: ApiClient, namespace: str) -> None:
    site = create(api, namespace, SITE)
    assert site["spec"]["trafficShare"] == 50, "default traffic share"
    assert site["spec"]["timings"]["holdDownSeconds"] == 120
    queue = create(api, namespace, QUEUE)
    assert queue["spec"]["serviceLevel"]["abandonTreatment"] == "against"
    assert queue["spec"]["ringTimeoutSeconds"] == 15


def with_change(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    changed["metadata"]["name"] = f"bad-{uuid.uuid4().hex[:6]}"
    *parents, leaf = path.split(".")
    target = changed
    for part in parents:
        target = target[part]
    target[leaf] = value
    return changed


@pytest.mark.parametrize(("path", "value", "field"), [
    ("spec.site", "Site_A", "spec.site"),
    ("spec.peers", ["site-a"], "spec.peers"),
    ("spec.trafficShare", 150, "spec.trafficShare"),
    ("spec.kafka", {"bootstrapServers": "no-port"}, "spec.kafka.bootstrapServers"),
    ("spec.mediaNodes", {"replicas": {"normal": 5, "failover": 2}},
     "spec.mediaNodes.replicas.failover"),
    ("spec.timings", {"heartbeatIntervalSeconds": 3, "peerTimeoutSeconds": 5},
     "spec.timings.peerTimeoutSeconds"),
    ("spec.witness", {"url": "witness"}, "spec.witness.url"),
    ("spec.edge", {"dispatcherConfigMap": "edge", "destinations": [
        {"site": "site-z", "address": "127.0.0.1:5060", "name": "z1"}]},
     "spec.edge.destinations"),
    ("spec.edge", {"dispatcherConfigMap": "edge", "destinations": [
        {"site": "site-b", "address": "no-port", "name": "b1"}]},
     "spec.edge.destinations[0].address"),
])
def test_invalid_sites_are_rejected_naming_the_field(
    api: ApiClient, namespace: str, path: str, value: Any, field: str,
) -> None:
    assert field in rejection(api, namespace, with_change(SITE, path, value))


@pytest.mark.parametrize(("path", "value", "field"), [
    ("spec.skills", [], "spec.skills"),
    ("spec.serviceLevel", {"targetPercent": 0}, "spec.serviceLevel.targetPercent"),
    ("spec.serviceLevel", {"thresholdSeconds": 10, "shortAbandonSeconds": 10},
     "spec.serviceLevel.shortAbandonSeconds"),
    ("spec.serviceLevel", {"abandonTreatment": "sometimes"},
     "spec.serviceLevel.abandonTreatment"),
])
def test_invalid_queues_are_rejected_naming_the_field(
    api: ApiClient, namespace: str, path: str, value: Any, field: str,
) -> None:
    assert field in rejection(api, namespace, with_change(QUEUE, path, value))


def test_kubectl_shows_the_printer_columns(api: ApiClient, kube: KubeTools,
                                           namespace: str) -> None:
    body = with_change(SITE, "spec.site", "site-c")
    create(api, namespace, body)
    out = subprocess.run(
        [str(kube.kubectl), "--kubeconfig", str(kube.kubeconfig), "get",
         f"{crds.SITES}.{crds.GROUP}", "-n", namespace, body["metadata"]["name"]],
        capture_output=True, text=True, timeout=60, check=True).stdout
    header = out.splitlines()[0].split()
    assert header == ["NAME", "SITE", "PEERS", "SHARE", "READY", "FAILEDOVER", "AGE"]
    assert "site-c" in out

