"""Split brain: a partition never gives a site two owners.

Real operator process, real API server, real Kafka and a real witness. The sites'
heartbeats never cross (their mirrored topics do not exist) and their probe ports
are closed, so each site suspects its peer; only the witness decides.
- Link cut, witness sees both: nobody fails over.
- Witness sees only one side: that side takes over, the isolated one does not.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from kubernetes import client
from kubernetes.client import ApiClient

from devstack.kafka import KafkaCluster
from devstack.pytest_plugin import KubeTools
from helpers.kube import new_namespace
from helpers.operator_process import OperatorProcess, poll
from helpers.sites import host_network_site
from hotline_events.topics import ensure_topics
from hotline_operators import crds

pytestmark = pytest.mark.integration

PAIRS = {"cut": ("cut-a", "cut-b"), "isolated": ("iso-a", "iso-b")}


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/"


@pytest.fixture(scope="module")
def cluster(kube: KubeTools, operator_api: ApiClient, kafka_site_a: KafkaCluster,
            witness: str, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[dict[str, Any]]:
    ensure_topics(kafka_site_a.bootstrap)
    namespaces = {site: new_namespace(operator_api, site)
                  for pair in PAIRS.values() for site in pair}
    process = OperatorProcess(kube.kubeconfig, list(namespaces.values()), "split-brain",
                              tmp_path_factory.mktemp("split-brain"))
    try:
        yield {"namespaces": namespaces, "process": process, "kafka": kafka_site_a,
               "witness": witness}
    finally:
        process.stop()


def create_site(cluster: dict[str, Any], api: ApiClient, site: str, peer: str,
                witness: str) -> None:
    body = host_network_site()
    body["metadata"]["name"] = site
    body["spec"].update({
        "site": site, "peers": [peer],
        "kafka": {"bootstrapServers": cluster["kafka"].bootstrap},
        "peerProbes": [{"site": peer, "url": closed_url()}],
        "witness": {"url": witness},
        "timings": {"heartbeatIntervalSeconds": 1, "peerTimeoutSeconds": 3,
                    "holdDownSeconds": 600},
    })
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        crds.GROUP, crds.VERSION, cluster["namespaces"][site], crds.SITES, body)


def status(cluster: dict[str, Any], api: ApiClient, site: str) -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(api).get_namespaced_custom_object(
        crds.GROUP, crds.VERSION, cluster["namespaces"][site], crds.SITES, site)
    return dict(obj.get("status") or {})


def refusals(cluster: dict[str, Any], site: str, peer: str, reason: str) -> int:
    """How often ``site`` suspected ``peer`` and was told no, for ``reason``."""
    return sum(1 for line in cluster["process"].output().splitlines()
               if f"/{site}]" in line and f"peer {peer} looks down but no failover" in line
               and reason in line)


def site_log(cluster: dict[str, Any], *sites: str, lines: int = 40) -> str:
    """The operator's last lines about ``sites``, and its errors, for a failure."""
    mine = [line for line in cluster["process"].output().splitlines()
            if any(site in line for site in sites)
            or "ERROR" in line or "Traceback" in line]
    return "operator log:\n" + "\n".join(mine[-lines:])


def leases(witness: str) -> dict[str, Any]:
    answer: dict[str, Any] = requests.get(witness + "/leases", timeout=5).json()
    return answer


def test_a_cut_link_with_the_witness_seeing_both_fails_nobody_over(
    cluster: dict[str, Any], operator_api: ApiClient,
) -> None:
    a, b = PAIRS["cut"]
    create_site(cluster, operator_api, a, b, cluster["witness"])
    create_site(cluster, operator_api, b, a, cluster["witness"])
    # Both sides suspect the other and ask the witness, repeatedly; it refuses each time.
    try:
        poll(lambda: (refusals(cluster, a, b, "only the link is cut") >= 3
                      and refusals(cluster, b, a, "only the link is cut") >= 3) or None,
             "both sites asking the witness and being refused three times", timeout=120)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{site_log(cluster, a, b)}") from None
    for site in (a, b):
        assert not status(cluster, operator_api, site).get("failedPeers"), site
    assert not {a, b} & set(leases(cluster["witness"])), "the witness granted a lease"


def test_with_the_witness_seeing_one_side_only_that_side_takes_over(
    cluster: dict[str, Any], operator_api: ApiClient,
) -> None:
    a, b = PAIRS["isolated"]
    create_site(cluster, operator_api, a, b, cluster["witness"])
    create_site(cluster, operator_api, b, a, closed_url())  # iso-b cannot reach the witness

    def taken_over() -> dict[str, Any] | None:
        found = status(cluster, operator_api, a)
        return found if found.get("failedPeers") == [b] else None

    poll(taken_over, f"{a} taking over {b}", timeout=120)
    # The isolated side keeps suspecting iso-a but cannot get a lease.
    poll(lambda: refusals(cluster, b, a, "the witness is unreachable") >= 3 or None,
         f"{b} being unable to reach the witness three times", timeout=120)
    assert not status(cluster, operator_api, b).get("failedPeers")
    granted = leases(cluster["witness"])
    assert granted[b]["holder"] == a and a not in granted, granted
