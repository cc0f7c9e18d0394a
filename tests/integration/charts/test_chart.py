"""The Helm chart against real helm, kubectl, kamailio and the real API server."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kopf.testing import KopfRunner
from kubernetes import client, watch
from kubernetes.client import ApiClient

from devstack.pytest_plugin import KubeTools
from helpers.chart_params import CHART, table
from helpers.kube import establish, new_namespace

pytestmark = pytest.mark.integration

TOGGLES: dict[str, list[str]] = {
    "default": [],
    "site-a": ["-f", str(CHART / "values-site-a.yaml")],
    "site-b": ["-f", str(CHART / "values-site-b.yaml")],
    "strimzi": ["--set", "strimzi.enabled=true",
                "--set", "strimzi.peerBootstrapServers=kafka-b.example:9092"],
    "k8ssandra": ["--set", "k8ssandra.enabled=true"],
    "service-monitor": ["--set", "serviceMonitor.enabled=true"],
    "witness": ["--set", "witness.deploy=true"],
    "host-network": ["--set", "mediaNodes.network.mode=hostNetwork"],
    "no-edge": ["--set", "edge.enabled=false"],
    "no-policies": ["--set", "networkPolicies.enabled=false",
                    "--set", "podDisruptionBudgets.enabled=false"],
}

NO_SETUP = ["--set", "setup.topics=false", "--set", "setup.keyspace=false"]

# Kinds of other operators (Strimzi, K8ssandra, Prometheus Operator) that optional
# templates render. Their real CRDs are not on this API server; these stand-ins let
# the server check apiVersion, kind and metadata of what we render.
FOREIGN_KINDS = [("kafka.strimzi.io", "v1beta2", "Kafka", "kafkas"),
                 ("kafka.strimzi.io", "v1beta2", "KafkaNodePool", "kafkanodepools"),
                 ("kafka.strimzi.io", "v1beta2", "KafkaMirrorMaker2", "kafkamirrormaker2s"),
                 ("kafka.strimzi.io", "v1beta2", "KafkaTopic", "kafkatopics"),
                 ("k8ssandra.io", "v1alpha1", "K8ssandraCluster", "k8ssandraclusters"),
                 ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors")]


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def api(operator_api: ApiClient) -> ApiClient:
    for group, version, kind, plural in FOREIGN_KINDS:
        establish(operator_api, {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": kind, "plural": plural},
                     "versions": [{"name": version, "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object",
                                       "x-kubernetes-preserve-unknown-fields": True}}}]}})
    return operator_api  # the chart's own CRDs are installed by operator_api


def helm(kube: KubeTools, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run([str(kube.helm), "--kubeconfig", str(kube.kubeconfig), *args], check=check)


def template(kube: KubeTools, namespace: str, *args: str) -> str:
    return helm(kube, "template", "hotline", str(CHART), "--namespace", namespace,
                *args).stdout


def test_helm_lint_passes_for_the_default_and_both_sites(kube: KubeTools) -> None:
    for extra in (TOGGLES["default"], TOGGLES["site-a"], TOGGLES["site-b"]):
        result = helm(kube, "lint", str(CHART), *extra)
        assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("toggle", sorted(TOGGLES))
def test_every_rendered_object_is_accepted_by_the_api_server(
    toggle: str, kube: KubeTools, api: ApiClient, tmp_path: Path,
) -> None:
    namespace = new_namespace(api, f"chart-{toggle}")
    # Without the `helm test` Pod: a dry run creates no ServiceAccount, and the API
    # server admits a Pod only once its ServiceAccount exists.
    rendered = template(kube, namespace, "--skip-tests", *TOGGLES[toggle])
    kinds = [d["kind"] for d in yaml.safe_load_all(rendered) if d]
    assert "ContactCenterSite" in kinds and "Deployment" in kinds
    manifest = tmp_path / "rendered.yaml"
    manifest.write_text(rendered)
    result = run([str(kube.kubectl), "--kubeconfig", str(kube.kubeconfig), "apply",
                  "--dry-run=server", "-f", str(manifest)])
    assert result.stdout.count("(server dry run)") == len(kinds)


def test_the_edge_configuration_passes_kamailios_own_check(kube: KubeTools,
                                                          tmp_path: Path) -> None:
    rendered = template(kube, "hotline", *TOGGLES["site-a"], "--show-only",
                        "templates/edge.yaml")
    config_map = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "ConfigMap")
    dispatcher = tmp_path / "dispatcher.list"
    dispatcher.write_text(config_map["data"]["dispatcher.list"])
    cfg = tmp_path / "kamailio.cfg"
    # The follower's run directory (dispatcher.list, the RPC socket) → a local one.
    cfg.write_text(config_map["data"]["kamailio.cfg"].replace(
        "/var/run/hotline-edge/", f"{tmp_path}/"))
    assert 'is_in_subnet("$si", "203.0.113.0/24")' in cfg.read_text()
    result = run(["kamailio", "-c", "-f", str(cfg)], check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("args", "named"), [
    (["--set", "kafka.bootstrapServers=5"], "/kafka/bootstrapServers"),
    (["--set", "site.trafficShare=lots"], "/site/trafficShare"),
    (["--set", "edge.replicaCount=3"], "'replicaCount' not allowed"),
    (["--set", "cassandra.localDatacenter="], "/cassandra/localDatacenter"),
    (["--set", "witness.url=null"], "/witness"),
    (["--set", "mediaNodes.network.mode=bridge"], "/mediaNodes/network/mode"),
])
def test_bad_values_are_rejected_naming_the_key(kube: KubeTools, args: list[str],
                                                named: str) -> None:
    result = helm(kube, "template", "hotline", str(CHART), *args, check=False)
    assert result.returncode != 0
    assert named in result.stderr, result.stderr


def test_the_readme_parameter_table_matches_the_values() -> None:
    readme = (CHART / "README.md").read_text()
    documented = readme[readme.index("| Parameter |"):].strip()
    assert documented == table(), "regenerate with: uv run python tests/helpers/chart_params.py"


def operator_kubeconfig(api: ApiClient, kube: KubeTools, namespace: str, account: str,
                        path: Path) -> Path:
    """A kubeconfig that acts as the chart's operator ServiceAccount (TokenRequest)."""
    token = client.CoreV1Api(api).create_namespaced_service_account_token(
        account, namespace, client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)))
    admin = yaml.safe_load(kube.kubeconfig.read_text())
    admin["users"] = [{"name": "devstack-admin", "user": {"token": token.status.token}}]
    path.write_text(yaml.safe_dump(admin))
    return path


@pytest.fixture(scope="module")
def installed(api: ApiClient, kube: KubeTools,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, KopfRunner]]:
    namespace = new_namespace(api, "hotline-helm")
    # No setup Job: it runs on a node against the site's Kafka and Cassandra (the node
    # e2e test covers it), and helm would wait for it here.
    helm(kube, "install", "hotline", str(CHART), "--namespace", namespace, *TOGGLES["site-a"],
         *NO_SETUP)
    config = operator_kubeconfig(api, kube, namespace, "hotline-site-a-operator",
                                 tmp_path_factory.mktemp("sa") / "kubeconfig")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("KUBECONFIG", str(config))
    denied = ForbiddenRecorder()
    logging.getLogger("kopf").addHandler(denied)
    runner = KopfRunner(["run", "--standalone", "--namespace", namespace,
                         "-m", "hotline_operators.operator"], timeout=60)
    try:
        with runner:
            yield namespace, runner
    finally:
        logging.getLogger("kopf").removeHandler(denied)
        monkeypatch.undo()
    assert runner.exception is None, runner.exception
    assert denied.messages == [], "the chart's RBAC lacks a permission the operator uses"


class ForbiddenRecorder(logging.Handler):
    """Keeps the operator's log lines about requests the API server refused."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Forbidden" in message or " 403" in message:
            self.messages.append(message)


def replicas_become(api: ApiClient, namespace: str, name: str, replicas: int) -> None:
    apps = client.AppsV1Api(api)
    for event in watch.Watch().stream(apps.list_namespaced_deployment, namespace,
                                      timeout_seconds=60):
        obj: Any = event["object"]
        if obj.metadata.name == name and obj.spec.replicas == replicas:
            return
    raise AssertionError(f"{name} never reached {replicas} replicas")


def test_install_upgrade_rollback_with_the_operator_reconciling(
    installed: tuple[str, KopfRunner], api: ApiClient, kube: KubeTools,
) -> None:
    namespace, _runner = installed
    replicas_become(api, namespace, "site-a-media-nodes", 2)
    queues = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "hotline.dev", "v1alpha1", namespace, "contactcenterqueues")["items"]
    assert sorted(q["metadata"]["name"] for q in queues) == ["acme-billing", "acme-vip"]

    helm(kube, "upgrade", "hotline", str(CHART), "--namespace", namespace, *TOGGLES["site-a"],
         *NO_SETUP, "--set", "mediaNodes.replicas.normal=3")
    replicas_become(api, namespace, "site-a-media-nodes", 3)

    helm(kube, "rollback", "hotline", "1", "--namespace", namespace)
    replicas_become(api, namespace, "site-a-media-nodes", 2)
    history = helm(kube, "history", "hotline", "--namespace", namespace).stdout
    assert len(history.strip().splitlines()) == 4  # header + install, upgrade, rollback


def test_the_edge_account_lets_the_follower_read_the_operators_list(
    installed: tuple[str, KopfRunner], api: ApiClient, kube: KubeTools, tmp_path: Path,
) -> None:
    # As the edge pod's init container, with the chart's edge ServiceAccount: the
    # list comes from the ConfigMap that spec.edge names (written here as the
    # operator's failover step would), not from the chart's fallback.
    namespace, _runner = installed
    site = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "hotline.dev", "v1alpha1", namespace, "contactcentersites", "site-a")
    name = site["spec"]["edge"]["dispatcherConfigMap"]
    listed = "1 sip:127.0.1.2:5060 0 10 duid=mn-a-0;maxload=4\n"
    client.CoreV1Api(api).create_namespaced_config_map(
        namespace, {"metadata": {"name": name}, "data": {"dispatcher.list": listed}})
    config = operator_kubeconfig(api, kube, namespace, "hotline-site-a-edge",
                                 tmp_path / "kubeconfig")
    fallback = tmp_path / "chart.list"
    fallback.write_text("1 sip:127.0.9.1:5060 0 0 duid=fallback;maxload=4\n")
    out = tmp_path / "dispatcher.list"
    done = run([sys.executable, "-m", "hotline_operators.edge", "--once", "--namespace",
                namespace, "--config-map", name, "--list", str(out), "--rpc-socket",
                str(tmp_path / "unused.sock"), "--initial", str(fallback),
                "--kubeconfig", str(config)])
    assert out.read_text() == listed, done.stderr
