"""A real node: pods run on this machine, reach the API server through the
``kubernetes`` Service with their service-account token, are garbage-collected with
their owners, and no cluster address is ever routed off the machine."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from kubernetes import client, config
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from devstack import network
from devstack.process import wait_for
from devstack.pytest_plugin import KubeNode
from helpers.kube import new_namespace

pytestmark = pytest.mark.integration

BUSYBOX = "/bin/busybox"  # the pause image is Debian's static busybox


@pytest.fixture(scope="module")
def api(kube_node: KubeNode) -> Iterator[ApiClient]:
    api_client = config.new_client_from_config(config_file=str(kube_node.kubeconfig))
    yield api_client
    api_client.close()


@pytest.fixture(scope="module")
def namespace(api: ApiClient) -> Iterator[str]:
    name = new_namespace(api, "node")
    core = client.CoreV1Api(api)
    # Pods are admitted only once the controller-manager made the namespace's account.
    wait_for(lambda: _found(lambda: core.read_namespaced_service_account("default", name)),
             f"the default ServiceAccount of {name}", timeout=30)
    yield name
    core.delete_namespace(name)  # the namespace controller empties and removes it


def _found(read: Any) -> bool | None:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return True


def _pod(name: str, image: str, command: list[str], *, restart: str = "Always",
         labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "main", "image": image, "imagePullPolicy": "Never",
                            "command": command}],
        },
    }


def _wait_pod(api: ApiClient, namespace: str, name: str, *, ready: bool = False,
              phase: str | None = None, timeout: float = 60) -> client.V1Pod:
    core = client.CoreV1Api(api)

    def settled() -> client.V1Pod | None:
        pod = core.read_namespaced_pod(name, namespace)
        if pod.status.phase == "Failed" and phase != "Failed":
            raise AssertionError(f"pod {name} failed: {pod.status}")
        conditions = {c.type: c.status for c in pod.status.conditions or []}
        if ready and conditions.get("Ready") == "True":
            return pod
        if phase is not None and pod.status.phase == phase:
            return pod
        return None

    try:
        return wait_for(settled, f"pod {namespace}/{name} {'Ready' if ready else phase}",
                        timeout=timeout, interval=0.2)
    except TimeoutError:
        events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={name}")
        raise AssertionError(
            f"pod {name} did not get there; its events:\n"
            + "\n".join(f"{e.reason}: {e.message}" for e in events.items)) from None


def _kubectl(node: KubeNode, *args: str) -> str:
    done = subprocess.run([str(node.kubectl), "--kubeconfig", str(node.kubeconfig), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_node_is_ready_on_the_bridge_address(api: ApiClient, kube_node: KubeNode) -> None:
    node = client.CoreV1Api(api).read_node(kube_node.name)
    conditions = {c.type: c.status for c in node.status.conditions}
    assert conditions["Ready"] == "True", node.status.conditions
    addresses = {a.type: a.address for a in node.status.addresses}
    assert addresses["InternalIP"] == network.POD_GATEWAY


def test_a_pod_runs_and_its_log_is_read(api: ApiClient, kube_node: KubeNode,
                                        namespace: str) -> None:
    client.CoreV1Api(api).create_namespaced_pod(namespace, _pod(
        "hello", kube_node.pause_ref,
        [BUSYBOX, "sh", "-c", f"echo hello from the node; exec {BUSYBOX} sleep 3600"]))
    pod = _wait_pod(api, namespace, "hello", ready=True)
    assert pod.status.phase == "Running"
    assert pod.status.pod_ip.startswith(network.POD_SUBNET.rsplit(".", 1)[0] + ".")
    assert "hello from the node" in _kubectl(kube_node, "logs", "-n", namespace, "hello")


def test_a_pod_reaches_the_api_server_through_the_kubernetes_service_with_its_token(
    api: ApiClient, kube_node: KubeNode, namespace: str,
) -> None:
    secrets = "/var/run/secrets/kubernetes.io/serviceaccount"
    # busybox has no TLS client, so the pod speaks plain HTTP to the TLS port: Go's TLS
    # server answers that in plain text, which proves the API server itself answered
    # through the Service's DNAT. The token is then used from here, over TLS.
    script = (f"test -s {secrets}/token && test -s {secrets}/ca.crt && "
              f"printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' | {BUSYBOX} nc -w 5 "
              f"{network.API_SERVICE_IP} 443; exec {BUSYBOX} sleep 3600")
    client.CoreV1Api(api).create_namespaced_pod(
        namespace, _pod("api-caller", kube_node.pause_ref, [BUSYBOX, "sh", "-c", script]))
    _wait_pod(api, namespace, "api-caller", ready=True)
    answered = wait_for(
        lambda: (log if "HTTP request to an HTTPS server" in (
            log := _kubectl(kube_node, "logs", "-n", namespace, "api-caller")) else None),
        "the API server's answer in the pod's log", timeout=30)
    assert "400 Bad Request" in answered

    token = _kubectl(kube_node, "exec", "-n", namespace, "api-caller", "--",
                     BUSYBOX, "cat", f"{secrets}/token")
    root_ca = client.CoreV1Api(api).read_namespaced_config_map("kube-root-ca.crt", namespace)
    server = api.configuration.host
    review = requests.post(
        f"{server}/apis/authentication.k8s.io/v1/selfsubjectreviews",
        json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        headers={"Authorization": f"Bearer {token}"}, verify=api.configuration.ssl_ca_cert,
        timeout=10)
    assert review.status_code == 201, review.text
    assert (review.json()["status"]["userInfo"]["username"]
            == f"system:serviceaccount:{namespace}:default")
    assert "BEGIN CERTIFICATE" in root_ca.data["ca.crt"]


def test_a_pod_reaches_another_pod_through_a_service(api: ApiClient, kube_node: KubeNode,
                                                     namespace: str) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, _pod(
        "web", kube_node.pause_ref,
        [BUSYBOX, "sh", "-c", f"mkdir -p /www && echo served-by-web > /www/index.html && "
                              f"exec {BUSYBOX} httpd -f -p 8080 -h /www"],
        labels={"app": "web"}))
    service = core.create_namespaced_service(namespace, {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    })
    _wait_pod(api, namespace, "web", ready=True)
    # busybox's wget crashes in a static build without NSS files; nc speaks HTTP too.
    request = (f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
               f"{BUSYBOX} nc -w 5 {service.spec.cluster_ip} 80")
    core.create_namespaced_pod(namespace, _pod(
        "web-client", kube_node.pause_ref,
        [BUSYBOX, "sh", "-c", f"{request} | {BUSYBOX} grep served-by-web"],
        restart="OnFailure"))
    # OnFailure: the first tries may run before kube-proxy has the Service's rules.
    _wait_pod(api, namespace, "web-client", phase="Succeeded")
    assert "served-by-web" in _kubectl(kube_node, "logs", "-n", namespace, "web-client")


def test_deleting_a_deployment_garbage_collects_its_pods(api: ApiClient, kube_node: KubeNode,
                                                         namespace: str) -> None:
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    name = f"sleepers-{uuid.uuid4().hex[:6]}"
    labels = {"app": name}
    template = _pod(name, kube_node.pause_ref, [BUSYBOX, "sleep", "3600"], labels=labels)
    apps.create_namespaced_deployment(namespace, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": template["metadata"], "spec": template["spec"]}},
    })
    selector = f"app={name}"

    def pods() -> list[client.V1Pod]:
        return list(core.list_namespaced_pod(namespace, label_selector=selector).items)

    wait_for(lambda: True if len([p for p in pods() if p.status.phase == "Running"]) == 2
             else None, "both replicas Running", timeout=60)
    apps.delete_namespaced_deployment(name, namespace, propagation_policy="Background")
    wait_for(lambda: True if not pods() else None,
             "the garbage collector deleting the Deployment's pods", timeout=60)
    assert not apps.list_namespaced_replica_set(namespace, label_selector=selector).items


def test_cluster_addresses_are_blackholed_beyond_the_bridge(kube_node: KubeNode) -> None:
    routes = network.pod_routes()
    assert f"blackhole {network.CLUSTER_CIDR}" in routes
    assert f"blackhole {network.SERVICE_GUARD}" in routes

    def route(address: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "route", "get", address], capture_output=True,
                              text=True, check=False)

    assert f"dev {network.POD_BRIDGE}" in route("10.244.0.77").stdout
    # The Services' range goes onto the bridge (kube-proxy translates it first).
    assert f"dev {network.POD_BRIDGE}" in route("10.0.0.10").stdout
    # Another node's pod range and the Services: dropped here (the kernel refuses a
    # route to a blackhole), never sent along the default route.
    for address in ("10.244.1.5", "10.0.1.10"):
        answer = route(address)
        assert answer.returncode != 0 and "eth0" not in answer.stdout, answer


def test_a_pod_that_could_pull_an_image_is_refused_naming_the_fix(
        api: ApiClient, kube_node: KubeNode, namespace: str) -> None:
    # Nothing may leave the machine: a pull (even its DNS lookup) never starts.
    pod = _pod("puller", "registry.invalid/hotline/nothing:1", [BUSYBOX, "true"])
    pod["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    with pytest.raises(ApiException) as refused:
        client.CoreV1Api(api).create_namespaced_pod(namespace, pod)
    assert refused.value.status in (403, 422)
    assert "imagePullPolicy: Never" in str(refused.value.body)
