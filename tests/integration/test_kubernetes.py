"""The API server: CRDs, custom objects and watches, helm and server-side dry runs."""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client, config, watch
from kubernetes.client import ApiClient

from devstack.pytest_plugin import KubeTools
from helpers.kube import establish, new_namespace

pytestmark = pytest.mark.integration

GROUP = "devstack.hotline.test"


@pytest.fixture(scope="module")
def api(kube: KubeTools) -> Iterator[ApiClient]:
    api_client = config.new_client_from_config(config_file=str(kube.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def namespace(api: ApiClient) -> str:
    return new_namespace(api, "devstack")


@dataclass(frozen=True)
class Widget:
    plural: str
    kind: str


@pytest.fixture(scope="module")
def widget_crd(api: ApiClient) -> Widget:
    suffix = uuid.uuid4().hex[:6]
    widget = Widget(plural=f"widgets{suffix}", kind=f"Widget{suffix.upper()}")
    name = f"{widget.plural}.{GROUP}"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": widget.plural, "singular": f"widget{suffix}",
                      "kind": widget.kind},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {"spec": {
                        "type": "object", "required": ["size"],
                        "properties": {"size": {"type": "integer", "minimum": 1}},
                    }},
                }},
            }],
        },
    }
    establish(api, crd)
    return widget


def test_a_custom_object_is_created_and_seen_by_a_watch(
    api: ApiClient, widget_crd: Widget, namespace: str,
) -> None:
    objects = client.CustomObjectsApi(api)
    listing = objects.list_namespaced_custom_object(GROUP, "v1", namespace, widget_crd.plural)
    since = listing["metadata"]["resourceVersion"]
    objects.create_namespaced_custom_object(GROUP, "v1", namespace, widget_crd.plural, {
        "apiVersion": f"{GROUP}/v1", "kind": widget_crd.kind,
        "metadata": {"name": "queue-billing"}, "spec": {"size": 3},
    })
    seen = None
    for event in watch.Watch().stream(objects.list_namespaced_custom_object, GROUP, "v1",
                                      namespace, widget_crd.plural, resource_version=since,
                                      timeout_seconds=30):
        if event["type"] == "ADDED":
            seen = event["object"]
            break
    assert seen is not None, "the watch saw no ADDED event"
    assert seen["metadata"]["name"] == "queue-billing"
    assert seen["spec"]["size"] == 3


def test_server_side_dry_run_rejects_an_invalid_object_naming_the_field(
    kube: KubeTools, widget_crd: Widget, namespace: str, tmp_path: Path,
) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(textwrap.dedent(f"""\
        apiVersion: {GROUP}/v1
        kind: {widget_crd.kind}
        metadata: {{name: too-small, namespace: {namespace}}}
        spec: {{size: 0}}
        """))
    result = subprocess.run(
        [str(kube.kubectl), "--kubeconfig", str(kube.kubeconfig), "apply",
         "--dry-run=server", "-f", str(manifest)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "spec.size" in result.stderr, result.stderr

    good = tmp_path / "good.yaml"
    good.write_text(manifest.read_text().replace("size: 0", "size: 2"))
    accepted = subprocess.run(
        [str(kube.kubectl), "--kubeconfig", str(kube.kubeconfig), "apply",
         "--dry-run=server", "-f", str(good)],
        capture_output=True, text=True, timeout=60)
    assert accepted.returncode == 0, accepted.stderr


def test_helm_installs_a_chart(api: ApiClient, kube: KubeTools, namespace: str,
                               tmp_path: Path) -> None:
    chart = tmp_path / "hello"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hello\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hello from helm\n")
    (chart / "templates" / "configmap.yaml").write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Release.Name }}-greeting
        data:
          greeting: {{ .Values.greeting | quote }}
        """))
    result = subprocess.run(
        [str(kube.helm), "--kubeconfig", str(kube.kubeconfig), "install", "demo", str(chart),
         "--namespace", namespace, "--wait", "--timeout", "60s"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "STATUS: deployed" in result.stdout
    configmap = client.CoreV1Api(api).read_namespaced_config_map("demo-greeting", namespace)
    assert configmap.data == {"greeting": "hello from helm"}
