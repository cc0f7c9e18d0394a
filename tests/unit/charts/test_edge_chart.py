"""The chart's edge: spec.edge of the site it renders and the follower beside Kamailio.

`helm template` only (no server): the names the operator writes (spec.edge), the
follower reads (its args, its Role) and Kamailio loads (kamailio.cfg) must agree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack import kubernetes
from helpers.chart_params import CHART
from hotline_media_nodes.edge.chart import DISPATCHER_LIST, RPC_SOCKET


@pytest.fixture(scope="module")
def helm() -> Path:
    return kubernetes.install().helm


def render(helm: Path, *args: str) -> list[dict[str, Any]]:
    done = subprocess.run([str(helm), "template", "hotline", str(CHART), "--namespace", "hl",
                           *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def arg(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_the_site_names_the_configmap_the_follower_watches_and_may_read(helm: Path) -> None:
    docs = render(helm, "--set", "edge.destinations[0].site=site-b",
                  "--set", "edge.destinations[0].address=10.0.2.2:5060",
                  "--set", "edge.destinations[0].name=mn-b-0")
    site = find(docs, "ContactCenterSite", "site-a")
    edge = site["spec"]["edge"]
    assert edge == {"dispatcherConfigMap": "hotline-site-a-edge-dispatcher",
                    "destinations": [{"site": "site-b", "address": "10.0.2.2:5060",
                                      "name": "mn-b-0"}]}
    pod = find(docs, "Deployment", "hotline-site-a-edge")["spec"]["template"]["spec"]
    follower = next(c for c in pod["containers"] if c["name"] == "follower")
    init = next(c for c in pod["initContainers"] if c["name"] == "dispatcher-list")
    for container in (follower, init):
        assert arg(container["command"], "--config-map") == edge["dispatcherConfigMap"]
        assert arg(container["command"], "--list") == DISPATCHER_LIST
        assert arg(container["command"], "--rpc-socket") == RPC_SOCKET
    assert "--once" in init["command"] and "--once" not in follower["command"]
    assert arg(init["command"], "--initial") == "/etc/kamailio/dispatcher.list"
    # Kamailio reads the list the follower writes and opens the socket it calls.
    cfg = find(docs, "ConfigMap", "hotline-site-a-edge")["data"]["kamailio.cfg"]
    assert f'"list_file", "{DISPATCHER_LIST}"' in cfg
    assert f'"dgram_socket", "{RPC_SOCKET}"' in cfg
    kamailio = next(c for c in pod["containers"] if c["name"] == "kamailio")
    mounts = {m["name"]: m["mountPath"] for m in kamailio["volumeMounts"]}
    assert mounts["run"] == str(Path(DISPATCHER_LIST).parent)
    assert {m["name"]: m["mountPath"] for m in follower["volumeMounts"]} == {
        "run": mounts["run"], "tmp": "/tmp"}
    # The edge's account may read that one ConfigMap and nothing else.
    assert pod["serviceAccountName"] == "hotline-site-a-edge"
    role = find(docs, "Role", "hotline-site-a-edge")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "resourceNames": [edge["dispatcherConfigMap"]],
                              "verbs": ["get", "list", "watch"]}]


def test_without_the_edge_the_site_has_no_spec_edge(helm: Path) -> None:
    docs = render(helm, "--set", "edge.enabled=false")
    assert "edge" not in find(docs, "ContactCenterSite", "site-a")["spec"]
    assert not [d for d in docs if d["metadata"]["name"] == "hotline-site-a-edge"]


@pytest.mark.parametrize(("args", "named"), [
    (["--set", "edge.destinations[0].site=site-b"], "/edge/destinations/0"),
    (["--set", "edge.destinations[0].site=site-b", "--set",
      "edge.destinations[0].address=nowhere", "--set", "edge.destinations[0].name=x"],
     "/edge/destinations/0/address"),
    (["--set", "edge.followerWatchTimeoutSeconds=0"], "/edge/followerWatchTimeoutSeconds"),
])
def test_bad_edge_values_are_rejected_naming_the_key(helm: Path, args: list[str],
                                                     named: str) -> None:
    done = subprocess.run([str(helm), "template", "hotline", str(CHART), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert named in done.stderr, done.stderr
