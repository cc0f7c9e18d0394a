"""Operator HA: two real operator processes, one Lease; SIGKILL the leader, the standby
takes over within seconds and repairs what was broken meanwhile."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from kubernetes import client
from kubernetes.client import ApiClient

from devstack.pytest_plugin import KubeTools
from helpers.kube import new_namespace
from helpers.operator_process import OperatorProcess, poll
from helpers.sites import host_network_site
from hotline_operators import crds

pytestmark = pytest.mark.integration

LEASE = "hotline-operator"
LEASE_SECONDS = 4


class Candidate(OperatorProcess):
    """An operator replica as the chart runs it: with the Lease, and a liveness port
    that the standby answers until it leads."""

    def __init__(self, kube: KubeTools, namespace: str, identity: str, logs: Path) -> None:
        port = free_port()
        self.health_url = f"http://127.0.0.1:{port}/healthz"
        super().__init__(
            kube.kubeconfig, [namespace], identity, logs, args=("--liveness", self.health_url),
            env={"HOTLINE_OPERATOR_LEASE": LEASE,
                 "HOTLINE_OPERATOR_LEASE_NAMESPACE": namespace,
                 "HOTLINE_OPERATOR_ID": identity,
                 "HOTLINE_OPERATOR_LEASE_SECONDS": str(LEASE_SECONDS),
                 "HOTLINE_STANDBY_HEALTH_PORT": str(port)})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health(process: Candidate) -> dict[str, Any] | None:
    """The liveness endpoint's JSON answer, or None while nothing answers."""
    try:
        answer = requests.get(process.health_url, timeout=2)
    except requests.RequestException:
        return None
    return dict(answer.json()) if answer.ok else None


def read_lease(api: ApiClient, namespace: str) -> Any:
    return client.CoordinationV1Api(api).read_namespaced_lease(LEASE, namespace)


def lease_holder(api: ApiClient, namespace: str) -> tuple[str | None, int] | None:
    try:
        lease: Any = read_lease(api, namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return lease.spec.holder_identity, int(lease.spec.lease_transitions or 0)


@pytest.fixture(scope="module")
def namespace(operator_api: ApiClient) -> str:
    return new_namespace(operator_api, "op-ha")


@pytest.fixture()
def operators(kube: KubeTools, namespace: str, operator_api: ApiClient,
              tmp_path: Path) -> Iterator[dict[str, Candidate]]:
    started: dict[str, Candidate] = {}
    try:
        # op-1 first, so the roles are known: op-1 active, op-2 standby.
        started["op-1"] = Candidate(kube, namespace, "op-1", tmp_path)
        poll(lambda: (lease_holder(operator_api, namespace) or (None, 0))[0] == "op-1" or None,
             "op-1 taking the lease")
        started["op-2"] = Candidate(kube, namespace, "op-2", tmp_path)
        poll(lambda: "is the standby" in started["op-2"].output() or None,
             "op-2 reporting itself the standby")
        yield started
    finally:
        for process in started.values():
            process.stop()


def test_the_standby_takes_over_when_the_leader_is_killed(
    operators: dict[str, Candidate], operator_api: ApiClient, namespace: str,
) -> None:
    objects = client.CustomObjectsApi(operator_api)
    apps = client.AppsV1Api(operator_api)
    objects.create_namespaced_custom_object(crds.GROUP, crds.VERSION, namespace, crds.SITES,
                                            host_network_site())

    def media_nodes() -> Any:
        try:
            return apps.read_namespaced_deployment("site-a-media-nodes", namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    before = poll(media_nodes, "the leader creating the site's media nodes")
    _, transitions = lease_holder(operator_api, namespace) or (None, 0)
    poll(lambda: "Handler 'reconcile' succeeded" in operators["op-1"].output() or None,
         "op-1 reporting the reconcile")
    # The standby ran no handler while op-1 led, yet answered its liveness probe.
    assert "Handler" not in operators["op-2"].output()
    assert health(operators["op-2"]) == {"standby": True}

    killed_at = time.monotonic()
    operators["op-1"].proc.send_signal(signal.SIGKILL)
    operators["op-1"].proc.wait()
    last_renewal = read_lease(operator_api, namespace).spec.renew_time  # op-1's, now final
    apps.delete_namespaced_deployment("site-a-media-nodes", namespace)  # only op-2 can repair

    def taken() -> Any:
        lease = read_lease(operator_api, namespace)
        return lease if lease.spec.holder_identity == "op-2" else None

    # The first record op-2 wrote (renewTime = when it took the lease), unless polling
    # missed it and saw a renewal up to one renewal interval later.
    taken_at = poll(taken, "op-2 taking the lease", timeout=60).spec.renew_time
    took_lease = time.monotonic() - killed_at
    def recreated() -> Any:
        found = media_nodes()
        return found if found is not None and found.metadata.uid != before.metadata.uid \
            else None

    back = poll(recreated,
                "op-2 recreating the deleted Deployment", timeout=90)
    repaired = time.monotonic() - killed_at
    print(f"\noperator HA: leader SIGKILLed -> standby holds the lease in {took_lease:.1f} s, "
          f"deleted Deployment repaired in {repaired:.1f} s (lease {LEASE_SECONDS} s)")
    assert back.spec.replicas == 2
    # kopf's own liveness endpoint took the port over from the standby's.
    def kopf_answers() -> bool | None:
        answer = health(operators["op-2"])
        return True if answer is not None and "standby" not in answer else None

    poll(kopf_answers, "kopf's liveness endpoint answering on the standby's port")
    assert lease_holder(operator_api, namespace) == ("op-2", transitions + 1)
    # Safety: not before a full lease duration after the dead leader's last renewal
    # (which came up to one renewal interval before the kill, so not "after the kill").
    assert (taken_at - last_renewal).total_seconds() >= LEASE_SECONDS, \
        f"took over {taken_at - last_renewal} after op-1's last renewal, before the lease " \
        f"could expire (took {took_lease:.1f} s after the kill)"

    # A clean shutdown hands the lease over at once (no standby left to take it here).
    operators["op-2"].stop()
    assert operators["op-2"].proc.returncode == 0, operators["op-2"].output()[-3000:]
    assert lease_holder(operator_api, namespace) == (None, transitions + 1)
