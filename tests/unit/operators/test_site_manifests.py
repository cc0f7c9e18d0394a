"""A site's stream workers read the queues' ConfigMap, and one interval adoption
consumer per peer runs the streams' real command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import hotline_streams.interval_adoption.__main__ as adoption_cli
from helpers.sites import example_site
from hotline_operators.queues.logic import (
    TENANTS_CONFIG_MAP,
    TENANTS_DIR,
    render_tenant,
    tenants_checksum,
)
from hotline_operators.queues.models import QueueSpec
from hotline_operators.site.logic import TENANTS_CHECKSUM_ANNOTATION, desired_objects
from hotline_operators.site.models import SiteSpec


def site(peers: list[str]) -> SiteSpec:
    body = example_site()
    body["metadata"].update(namespace="ns", uid="uid-1")
    body["spec"]["peers"] = peers
    body["spec"]["kafka"]["secretRef"] = "kafka-creds"
    return SiteSpec.from_resource(body)


def by_name(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The Deployments by name (a Service and a PDB share a workload's name)."""
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Deployment"}


def test_stream_workers_mount_the_tenants_config_map_and_point_the_loader_at_it() -> None:
    workers = by_name(desired_objects(site(["site-b"]), "normal"))["site-a-stream-workers"]
    pod = workers["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tenants"]["configMap"] == {"name": TENANTS_CONFIG_MAP, "optional": True}
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert mounts["tenants"] == env["HOTLINE_TENANTS_DIR"] == TENANTS_DIR
    assert mounts["site"] != mounts["tenants"]


def test_stream_workers_serve_their_pages_on_the_pod_address_and_advertise_it() -> None:
    """Probes and the Service reach the pod's IP, not its loopback; the other workers
    forward a tenant's pages to the advertised address."""
    workers = by_name(desired_objects(site(["site-b"]), "normal"))["site-a-stream-workers"]
    container = workers["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["HOTLINE_STREAMS_WEB_HOST"]["value"] == "0.0.0.0"
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    names = [e["name"] for e in container["env"]]
    # $(POD_IP) is expanded by the kubelet only from a variable defined before it.
    assert names.index("POD_IP") < names.index("HOTLINE_STREAMS_ADVERTISED_URL")
    assert env["HOTLINE_STREAMS_ADVERTISED_URL"]["value"] == "http://$(POD_IP):6066"
    assert {"name": "http", "containerPort": 6066, "protocol": "TCP"} in container["ports"]


def test_stream_workers_request_a_whole_core_without_a_cpu_limit() -> None:
    """A worker uses about a core at peak (the routing benchmark); a CPU limit would
    throttle it. The media nodes keep their smaller request."""
    deployments = by_name(desired_objects(site([]), "normal"))
    workers = deployments["site-a-stream-workers"]["spec"]["template"]["spec"]["containers"][0]
    assert workers["resources"]["requests"]["cpu"] == "1"
    assert "cpu" not in workers["resources"].get("limits", {})
    media = deployments["site-a-media-nodes"]["spec"]["template"]["spec"]["containers"][0]
    assert media["resources"]["requests"]["cpu"] == "250m"


def test_one_interval_adoption_deployment_per_peer_owned_by_the_site() -> None:
    objects = by_name(desired_objects(site(["site-b", "site-c"]), "failover"))
    names = [n for n in objects if "interval-adoption" in n]
    assert names == ["site-a-interval-adoption-site-b", "site-a-interval-adoption-site-c"]
    selectors = set()
    for name, peer in zip(names, ["site-b", "site-c"], strict=True):
        d = objects[name]
        assert d["kind"] == "Deployment" and d["spec"]["replicas"] == 1
        assert d["spec"]["strategy"] == {"type": "Recreate"}
        owner = d["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == ("ContactCenterSite", "site-a",
                                                                "uid-1")
        labels = d["spec"]["template"]["metadata"]["labels"]
        selector = d["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items() and selector["hotline.dev/peer"] == peer
        selectors.add(tuple(sorted(selector.items())))
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "ghcr.io/hotline/streams:latest"
        assert container["envFrom"] == [{"secretRef": {"name": "kafka-creds"}}]
        assert "readinessProbe" not in container and "livenessProbe" not in container
        cmd = container["command"]
        assert cmd[:3] == ["python", "-m", "hotline_streams.interval_adoption"]
        assert cmd[cmd.index("--peer") + 1] == peer
        assert cmd[cmd.index("--kafka") + 1] == "kafka-a.example:9092"
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert cmd[cmd.index("--tenants-dir") + 1] == mounts["tenants"]
    assert len(selectors) == 2  # the two Deployments never adopt each other's pods
    # The replica count does not follow the profile: one shadow per peer, always.
    normal = by_name(desired_objects(site(["site-b", "site-c"]), "normal"))
    assert normal[names[0]]["spec"]["replicas"] == 1


def test_a_site_without_peers_runs_no_adoption_consumer() -> None:
    assert sorted(by_name(desired_objects(site([]), "normal"))) == [
        "site-a-media-nodes", "site-a-stream-workers"]


def test_the_streams_cli_accepts_the_manifests_command(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run the real entry point's argument parsing and tenant loading on the command the
    Deployment carries (Kafka I/O replaced: this proves the command, not the consumer)."""
    container = by_name(desired_objects(site(["site-b"]), "normal"))[
        "site-a-interval-adoption-site-b"]["spec"]["template"]["spec"]["containers"][0]
    argv = [tmp_path.as_posix() if a == TENANTS_DIR else a for a in container["command"][3:]]
    spec = QueueSpec.from_resource({"metadata": {"name": "general"}, "spec": {
        "tenant": "acme", "queue": "general", "skills": ["general"]}})
    (tmp_path / "acme.yaml").write_text(render_tenant("acme", [spec]))
    seen: dict[str, Any] = {}

    class Adopter:
        def __init__(self, settings: Any, bootstrap: str, catalog: Any, producer: Any,
                     config_for: Any) -> None:
            seen.update(settings=settings, bootstrap=bootstrap, config_for=config_for)

        def run(self, stopped: Any, on_ready: Any) -> None:
            on_ready()

        def close(self) -> None:
            seen["closed"] = True

    monkeypatch.setattr(adoption_cli, "Adopter", Adopter)
    monkeypatch.setattr(adoption_cli, "EventProducer", lambda *a, **kw: None)
    monkeypatch.setattr(adoption_cli.signal, "signal", lambda *a: None)
    assert adoption_cli.main(argv) == 0
    assert (seen["settings"].site, seen["settings"].peer) == ("site-a", "site-b")
    assert seen["bootstrap"] == "kafka-a.example:9092"
    assert set(seen["config_for"]("acme").queues) == {"general"}
    assert seen["closed"]
    assert yaml.safe_load((tmp_path / "acme.yaml").read_text())["tenant"] == "acme"


def test_a_changed_tenants_file_rolls_the_workers_that_read_it_at_start() -> None:
    def checksums(data: dict[str, str] | None) -> dict[str, str | None]:
        deployments = by_name(desired_objects(site(["site-b"]), "normal",
                                              tenants_checksum(data)))
        return {name: d["spec"]["template"]["metadata"].get("annotations", {}).get(
                    TENANTS_CHECKSUM_ANNOTATION) for name, d in deployments.items()}

    before = checksums({"acme.yaml": "tenant: acme\n"})
    assert before == checksums({"acme.yaml": "tenant: acme\n"})  # stable: no needless roll
    after = checksums({"acme.yaml": "tenant: acme\n# changed\n"})
    for name in ("site-a-stream-workers", "site-a-interval-adoption-site-b"):
        assert before[name] and after[name] and before[name] != after[name]
    assert before["site-a-media-nodes"] is None  # media nodes do not read it
    assert checksums(None) == checksums({})
