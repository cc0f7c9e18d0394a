"""ContactCenterQueue objects on the real API server become the streams' tenant files
(real kopf operator): the ConfigMap's YAML goes through the streams' own loader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kopf.testing import KopfRunner
from kubernetes import client
from kubernetes.client import ApiClient

from devstack.pytest_plugin import KubeTools
from helpers.kube import new_namespace
from helpers.operator_process import OperatorProcess, operator_in_process, poll
from helpers.sites import host_network_site
from hotline_operators import crds
from hotline_operators.queues.logic import TENANTS_CONFIG_MAP, config_map
from hotline_streams.config.loader import parse
from hotline_streams.config.models import TenantConfig

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def namespace(operator_api: ApiClient) -> str:
    return new_namespace(operator_api, "hotline-queues")


@pytest.fixture(scope="module")
def operator(kube: KubeTools, namespace: str, operator_api: ApiClient) -> Iterator[KopfRunner]:
    with operator_in_process(kube.kubeconfig, namespace) as runner:
        yield runner


def queue(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{crds.GROUP}/{crds.VERSION}", "kind": "ContactCenterQueue",
            "metadata": {"name": name},
            "spec": {"tenant": "acme", "queue": name, "skills": [name], **spec}}


def tenant_file(api: ApiClient, namespace: str) -> str | None:
    try:
        cm = client.CoreV1Api(api).read_namespaced_config_map(TENANTS_CONFIG_MAP, namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return (cm.data or {}).get("acme.yaml")


def loaded(api: ApiClient, namespace: str) -> TenantConfig | None:
    text = tenant_file(api, namespace)
    return None if text is None else parse(yaml.safe_load(text), "acme.yaml")


def rendered(api: ApiClient, namespace: str, name: str) -> dict[str, Any] | None:
    """The queue's status once its Rendered condition is set."""
    obj: Any = client.CustomObjectsApi(api).get_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, crds.QUEUES, name)
    status: dict[str, Any] = obj.get("status") or {}
    if any(c["type"] == "Rendered" for c in status.get("conditions") or []):
        return status
    return None


def condition(status: dict[str, Any]) -> dict[str, str]:
    return next(c for c in status["conditions"] if c["type"] == "Rendered")


def events(api: ApiClient, namespace: str, name: str) -> list[tuple[str, str]]:
    items = client.CoreV1Api(api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}").items
    return [(e.type, e.reason) for e in items]


def test_two_queues_become_one_tenant_file_the_streams_load(
        operator: KopfRunner, operator_api: ApiClient, namespace: str) -> None:
    objects = client.CustomObjectsApi(operator_api)
    objects.create_namespaced_custom_object(crds.GROUP, crds.VERSION, namespace, crds.QUEUES,
                                            queue("general"))
    objects.create_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, crds.QUEUES,
        queue("cards", serviceLevel={"targetPercent": 90},
              overflow=[{"afterSeconds": 30, "skills": ["general"], "toQueue": "general"}]))
    config = poll(lambda: (c if (c := loaded(operator_api, namespace)) is not None
                           and set(c.queues) == {"general", "cards"} else None),
                  "both queues in the tenants ConfigMap", timeout=60)
    assert config.queues["cards"].settings.target == 0.9
    assert config.queues["cards"].routing.overflow[0].to_queue == "general"
    status = poll(lambda: rendered(operator_api, namespace, "cards"), "cards' status")
    assert condition(status)["status"] == "True"
    assert (status["targetText"], status["configKey"]) == ("90% in 20s", "acme.yaml")
    poll(lambda: ("Normal", "Rendered") in events(operator_api, namespace, "cards") or None,
         "a Rendered event on cards")


def workers_checksum(api: ApiClient, namespace: str) -> str | None:
    try:
        d = client.AppsV1Api(api).read_namespaced_deployment("site-a-stream-workers", namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return (d.spec.template.metadata.annotations or {}).get("hotline.dev/tenants-checksum")


def test_an_update_is_followed_and_rolls_the_stream_workers(
        operator: KopfRunner, operator_api: ApiClient, namespace: str) -> None:
    client.CustomObjectsApi(operator_api).create_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, crds.SITES, host_network_site())
    before = poll(lambda: workers_checksum(operator_api, namespace),
                  "the site's stream workers", timeout=60)
    client.CustomObjectsApi(operator_api).patch_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, crds.QUEUES, "general",
        {"spec": {"serviceLevel": {"targetPercent": 95, "thresholdSeconds": 15}}})
    config = poll(lambda: (c if (c := loaded(operator_api, namespace)) is not None
                           and c.queues["general"].settings.target == 0.95 else None),
                  "general's new target in the ConfigMap", timeout=60)
    assert config.queues["general"].settings.threshold_s == 15
    poll(lambda: (s if (s := rendered(operator_api, namespace, "general"))
                  and s.get("targetText") == "95% in 15s" else None), "general's Target column")
    # The workers read their tenant files at start: the site's reconcile rolls them.
    poll(lambda: (c if (c := workers_checksum(operator_api, namespace)) not in (None, before)
                  else None), "the stream workers' pod template following the file", timeout=60)


def test_an_overflow_to_a_missing_queue_is_reported_and_the_last_good_file_kept(
        operator: KopfRunner, operator_api: ApiClient, namespace: str) -> None:
    good = tenant_file(operator_api, namespace)
    client.CustomObjectsApi(operator_api).patch_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, crds.QUEUES, "cards",
        {"spec": {"overflow": [{"afterSeconds": 30, "skills": ["general"],
                                "toQueue": "platinum"}]}})
    status = poll(lambda: (s if (s := rendered(operator_api, namespace, "cards"))
                           and condition(s)["status"] == "False" else None),
                  "cards' Rendered=False", timeout=60)
    assert condition(status)["reason"] == "Invalid"
    assert "'platinum' does not exist in tenant 'acme'" in condition(status)["message"]
    poll(lambda: ("Warning", "Invalid") in events(operator_api, namespace, "cards") or None,
         "an Invalid warning event on cards")
    bystander = poll(lambda: (s if (s := rendered(operator_api, namespace, "general"))
                              and condition(s)["status"] == "False" else None),
                     "general's Rendered=False (its tenant is held)")
    assert condition(bystander)["reason"] == "TenantInvalid"
    assert tenant_file(operator_api, namespace) == good


def test_a_deleted_queue_leaves_the_file(operator: KopfRunner, operator_api: ApiClient,
                                         namespace: str) -> None:
    client.CustomObjectsApi(operator_api).delete_namespaced_custom_object(
        crds.GROUP, crds.VERSION, namespace, crds.QUEUES, "cards")
    config = poll(lambda: (c if (c := loaded(operator_api, namespace)) is not None
                           and set(c.queues) == {"general"} else None),
                  "cards gone from the tenants ConfigMap", timeout=60)
    assert config.queues["general"].settings.target == 0.95
    # With the broken queue gone the tenant renders again.
    poll(lambda: (s if (s := rendered(operator_api, namespace, "general"))
                  and condition(s)["status"] == "True" else None), "general's Rendered=True")


def test_a_deleted_tenants_config_map_comes_back(
        operator: KopfRunner, operator_api: ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(operator_api)
    before = core.read_namespaced_config_map(TENANTS_CONFIG_MAP, namespace)
    core.delete_namespaced_config_map(TENANTS_CONFIG_MAP, namespace)

    def recreated() -> TenantConfig | None:
        try:
            cm = core.read_namespaced_config_map(TENANTS_CONFIG_MAP, namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        if cm.metadata.uid == before.metadata.uid:
            return None
        return parse(yaml.safe_load(cm.data["acme.yaml"]), "acme.yaml")

    config = poll(recreated, "the tenants ConfigMap's re-creation", timeout=60)
    assert set(config.queues) == {"general"}


def test_a_started_operator_drops_tenants_whose_queues_are_gone(
        kube: KubeTools, operator_api: ApiClient, tmp_path: Path) -> None:
    """A queue deleted while no operator ran (here: a file left from before) is dropped
    at start, even when the namespace has no queue left to resume."""
    namespace = new_namespace(operator_api, "hotline-queues-start")
    core = client.CoreV1Api(operator_api)
    stale = config_map(namespace, {"gone.yaml": "tenant: gone\nqueues: {}\n"})
    core.create_namespaced_config_map(namespace, stale)
    operator = OperatorProcess(kube.kubeconfig, [namespace], "queues-start", tmp_path)
    try:
        poll(lambda: (True if core.read_namespaced_config_map(
            TENANTS_CONFIG_MAP, namespace).data in (None, {}) else None),
             "the stale tenant dropped at operator start", timeout=90)
    finally:
        operator.stop()
    assert "hotline-tenants written: tenants (none)" in operator.output()
