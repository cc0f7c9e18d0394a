"""The operator (real kopf, real API server) reconciles a site and repairs drift."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kopf.testing import KopfRunner
from kubernetes import client, watch
from kubernetes.client import ApiClient

from devstack.pytest_plugin import KubeTools
from helpers.kube import new_namespace
from helpers.operator_process import operator_in_process
from helpers.sites import example_site
from hotline_operators import crds

pytestmark = pytest.mark.integration

SITE = example_site()


@pytest.fixture(scope="module")
def namespace(operator_api: ApiClient) -> str:
    return new_namespace(operator_api, "hotline-op")


@pytest.fixture(scope="module")
def operator(kube: KubeTools, namespace: str,
             operator_api: ApiClient) -> Iterator[KopfRunner]:
    with operator_in_process(kube.kubeconfig, namespace) as runner:
        yield runner


def wait_for(list_call: Callable[..., Any], namespace: str, accept: Callable[[Any], bool],
             what: str, timeout: int = 60, **selectors: Any) -> Any:
    """Watch a namespaced list until an object passes ``accept``."""
    for event in watch.Watch().stream(list_call, namespace, timeout_seconds=timeout,
                                      **selectors):
        if accept(event["object"]):
            return event["object"]
    raise AssertionError(f"{what} did not happen within {timeout}s")


def site_condition(obj: dict[str, Any], kind: str) -> str | None:
    found = condition_of(obj, kind)
    return None if found is None else str(found["status"])


def condition_of(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or []
                 if c["type"] == kind), None)


def test_a_site_gets_its_workloads_and_a_ready_condition_naming_the_pods_not_ready(
    operator: KopfRunner, operator_api: ApiClient, namespace: str,
) -> None:
    objects = client.CustomObjectsApi(operator_api)
    objects.create_namespaced_custom_object(crds.GROUP, crds.VERSION, namespace, crds.SITES,
                                            copy.deepcopy(SITE))

    def list_sites(ns: str, **kw: Any) -> Any:
        return objects.list_namespaced_custom_object(crds.GROUP, crds.VERSION, ns,
                                                     crds.SITES, **kw)

    # Ready means the site's pods are ready; these never are (the example's images are
    # not on any node), and the condition says which Deployments it waits for.
    def not_ready_naming_media(obj: dict[str, Any]) -> bool:
        ready = condition_of(obj, "Ready")
        return ("trafficShare" in (obj.get("status") or {})  # the create handler's write
                and ready is not None and ready["status"] == "False"
                and ready.get("reason") == "PodsNotReady"
                and "site-a-media-nodes" in ready.get("message", ""))

    site = wait_for(list_sites, namespace, not_ready_naming_media,
                    "site-a Ready=False (PodsNotReady) naming its media nodes")
    assert site["status"]["trafficShare"] == 50

    apps = client.AppsV1Api(operator_api)
    media = apps.read_namespaced_deployment("site-a-media-nodes", namespace)
    streams = apps.read_namespaced_deployment("site-a-stream-workers", namespace)
    assert (media.spec.replicas, streams.spec.replicas) == (2, 1)
    volumes = {v.name: v for v in media.spec.template.spec.volumes}
    assert volumes["recording-key"].secret.secret_name == "hotline-recording-key"
    tenants = {v.name: v for v in streams.spec.template.spec.volumes}["tenants"]
    assert tenants.config_map.name == "hotline-tenants"
    assert streams.spec.template.metadata.annotations["hotline.dev/tenants-checksum"]
    adoption = apps.read_namespaced_deployment("site-a-interval-adoption-site-b", namespace)
    assert adoption.spec.replicas == 1
    assert adoption.metadata.owner_references[0].uid == site["metadata"]["uid"]
    owner = media.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid) == ("ContactCenterSite", "site-a",
                                                   site["metadata"]["uid"])
    core = client.CoreV1Api(operator_api)
    assert core.read_namespaced_service("site-a-media-nodes", namespace).spec.ports[0].protocol \
        == "UDP"
    assert "site.yaml" in core.read_namespaced_config_map("site-a-site", namespace).data
    client.PolicyV1Api(operator_api).read_namespaced_pod_disruption_budget(
        "site-a-media-nodes", namespace)
    events = core.list_namespaced_event(namespace,
                                        field_selector="involvedObject.name=site-a").items
    assert any(e.reason == "Reconciled" for e in events), [e.reason for e in events]


def test_a_deleted_deployment_comes_back(
    operator: KopfRunner, operator_api: ApiClient, namespace: str,
) -> None:
    apps = client.AppsV1Api(operator_api)
    before = apps.read_namespaced_deployment("site-a-media-nodes", namespace)
    apps.delete_namespaced_deployment("site-a-media-nodes", namespace)
    back = wait_for(apps.list_namespaced_deployment, namespace,
                    lambda d: d.metadata.name == "site-a-media-nodes"
                    and d.metadata.uid != before.metadata.uid,
                    "the media-nodes Deployment's re-creation", timeout=30)
    assert back.spec.replicas == 2


def test_a_spec_change_rescales_the_workloads(
    operator: KopfRunner, operator_api: ApiClient, namespace: str,
) -> None:
    client.CustomObjectsApi(operator_api).patch_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, crds.SITES, "site-a",
        {"spec": {"mediaNodes": {"replicas": {"normal": 3, "failover": 6}}}})
    apps = client.AppsV1Api(operator_api)
    scaled = wait_for(apps.list_namespaced_deployment, namespace,
                      lambda d: d.metadata.name == "site-a-media-nodes" and d.spec.replicas == 3,
                      "scaling media nodes to 3", timeout=30)
    assert scaled.spec.replicas == 3
