"""Example custom resources for the operator's tests."""

from __future__ import annotations

import copy
from typing import Any

from hotline_operators import crds

_SITE: dict[str, Any] = {
    "apiVersion": f"{crds.GROUP}/{crds.VERSION}",
    "kind": "ContactCenterSite",
    "metadata": {"name": "site-a"},
    "spec": {
        "site": "site-a",
        "peers": ["site-b"],
        "kafka": {"bootstrapServers": "kafka-a.example:9092"},
        "cassandra": {"contactPoints": ["cass-a.example"], "localDatacenter": "dc-a"},
        "mediaNodes": {"replicas": {"normal": 2, "failover": 4}},
        "streamWorkers": {"replicas": {"normal": 1, "failover": 2}},
        "witness": {"url": "https://witness.example:8443"},
        "recording": {"keySecretRef": "hotline-recording-key"},
        "timings": {"heartbeatIntervalSeconds": 1, "peerTimeoutSeconds": 5},
    },
}


def example_site() -> dict[str, Any]:
    """A valid ContactCenterSite (a fresh copy each time)."""
    return copy.deepcopy(_SITE)


def host_network_site() -> dict[str, Any]:
    """example_site() with hostNetwork media nodes: a ClusterIP Service instead of a
    LoadBalancer, whose ~200 RTP node ports per site would soon exhaust the test API
    server's node-port range (30000-32767) when many tests create sites."""
    body = example_site()
    body["spec"]["mediaNodes"]["network"] = {"mode": "hostNetwork"}
    return body
