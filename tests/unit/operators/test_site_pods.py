"""The site's pods run the real command lines, as uid 10001 on a read-only root, with
the spec's flows, trunks, key, ports and placement."""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest

import hotline_media_nodes.cli as media_cli
from helpers.sites import example_site
from hotline_media_nodes.health import HealthServer, Snapshot
from hotline_media_nodes.pool.models import Slot
from hotline_media_nodes.pool.wiring import Pool
from hotline_media_nodes.pool.wiring import parse_args as pool_args
from hotline_media_nodes.worker.__main__ import parse_args as worker_args
from hotline_operators import crds
from hotline_operators.site.logic import desired_objects
from hotline_operators.site.models import SiteSpec
from hotline_operators.site.pods import FLOWS_CHECKSUM_ANNOTATION
from hotline_streams.settings import StreamSettings

FULL_SPEC: dict[str, Any] = {
    "imagePullPolicy": "Never",
    "hostNetwork": True,
    "callerTokenKey": {"secretRef": "hotline-caller-token", "key": "token-key"},
    "recording": {"keySecretRef": "hotline-recording-key"},
    "mediaNodes": {
        "image": "hotline/media-node:dev",
        "replicas": {"normal": 1, "failover": 2},
        "network": {"mode": "hostNetwork", "sipPort": 5060},
        "workers": 3, "sipPortBase": 5080, "healthPort": 8090,
        "flows": {"configMap": "hotline-flows", "files": ["acme.yaml", "globex.yaml"],
                  "checksum": "abc123"},
        "trunks": ["10.0.0.0/8", "192.168.1.7"],
        "agentUriTemplate": "sip:{agent_id}@pbx.example:5060",
        "dialUriTemplate": "sip:{number}@carrier.example",
        "drainSeconds": 120,
        "recordings": {"volume": "persistentVolumeClaim", "claimName": "recordings"},
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                      "limits": {"memory": "2Gi"}},
        "nodeSelector": {"hotline.dev/media": "true"},
        "tolerations": [{"key": "media", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                "labelSelector": {"matchLabels": {
                                                    "app.kubernetes.io/component":
                                                        "media-nodes"}}}}]}},
    },
    "streamWorkers": {
        "image": "hotline/streams:dev",
        "replicas": {"normal": 1, "failover": 2},
        "port": 6070,
        "resources": {"requests": {"cpu": "2", "memory": "1Gi"}},
        "nodeSelector": {"hotline.dev/streams": "true"},
        "tolerations": [{"key": "streams", "operator": "Exists"}],
        "affinity": {"nodeAffinity": {}},
    },
}


def body(**spec: Any) -> dict[str, Any]:
    b = example_site()
    b["metadata"].update(namespace="ns", uid="uid-1")
    b["spec"].update(copy.deepcopy(spec))
    return b


def full_site() -> SiteSpec:
    return SiteSpec.from_resource(body(**FULL_SPEC))


def objects(spec: SiteSpec) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in desired_objects(spec, "normal")}


def pod(spec: SiteSpec, name: str) -> dict[str, Any]:
    template: dict[str, Any] = objects(spec)[("Deployment", name)]["spec"]["template"]
    return template


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


def expand(args: list[str], values: dict[str, str]) -> list[str]:
    """What the kubelet does with $(VAR) in a command."""
    out = []
    for a in args:
        for k, v in values.items():
            a = a.replace(f"$({k})", v)
        out.append(a)
    return out


def schema() -> dict[str, Any]:
    crd = crds.load(crds.SITES)
    found: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return found


@functools.cache
def validator() -> Any:
    """The CRD's OpenAPI schema as JSON Schema (types, ranges, enums, patterns; its CEL
    rules need an API server: tests/integration/operators/test_operator_crds.py)."""
    return jsonschema.Draft7Validator(schema())


def test_the_full_example_is_valid_against_the_crd_schema() -> None:
    validator().validate(body(**FULL_SPEC))


@pytest.mark.parametrize(("path", "value"), [
    (("imagePullPolicy",), "Sometimes"),
    (("hostNetwork",), "yes"),
    (("mediaNodes", "workers"), 0),
    (("mediaNodes", "workers"), 33),
    (("mediaNodes", "sipPortBase"), 80),
    (("mediaNodes", "healthPort"), 443),
    (("mediaNodes", "drainSeconds"), 0),
    (("mediaNodes", "drainSeconds"), 3601),
    (("mediaNodes", "trunks"), ["not-a-cidr"]),
    (("mediaNodes", "trunks"), ["10.0.0.0/33"]),
    (("mediaNodes", "agentUriTemplate"), "sip:agent@pbx"),
    (("mediaNodes", "dialUriTemplate"), "sip:{agent_id}@carrier"),
    (("mediaNodes", "flows", "files"), ["../etc/passwd"]),
    (("mediaNodes", "flows", "files"), []),
    (("mediaNodes", "recordings", "volume"), "hostPath"),
    (("callerTokenKey", "key"), "a key"),
    (("streamWorkers", "port"), 80),
])
def test_the_crd_schema_rejects_bad_values_naming_the_field(path: tuple[str, ...],
                                                            value: Any) -> None:
    b = body(**FULL_SPEC)
    target = b["spec"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError) as err:
        validator().validate(b)
    assert list(err.value.absolute_path)[:len(path) + 1] == ["spec", *path]


def test_every_new_field_is_described_in_the_crd() -> None:
    spec = schema()["properties"]["spec"]["properties"]
    media, streams = spec["mediaNodes"]["properties"], spec["streamWorkers"]["properties"]
    described = [spec[k] for k in ("imagePullPolicy", "hostNetwork", "callerTokenKey")]
    described += [media[k] for k in ("workers", "sipPortBase", "healthPort", "flows", "trunks",
                                     "agentUriTemplate", "dialUriTemplate", "drainSeconds",
                                     "recordings", "resources", "nodeSelector", "tolerations",
                                     "affinity")]
    described += [streams[k] for k in ("port", "resources", "nodeSelector", "tolerations",
                                       "affinity")]
    assert all(d.get("description") for d in described)
    rules = json.dumps(spec["mediaNodes"]["x-kubernetes-validations"])
    assert "has(self.flows)" in rules and "trunks" in rules


def test_defaults_keep_a_minimal_site_as_before() -> None:
    spec = SiteSpec.from_resource(body())
    assert (spec.image_pull_policy, spec.host_network, spec.caller_token_key) == (
        "IfNotPresent", False, None)
    pool = spec.media_pool
    assert (pool.workers, pool.sip_port_base, pool.health_port, pool.drain_seconds) == (
        2, 5070, 8080, 30)
    assert spec.streams_port == 6066
    streams = pod(spec, "site-a-stream-workers")["spec"]
    assert "hostNetwork" not in streams
    assert env_of(streams["containers"][0])["HOTLINE_STREAMS_WEB_HOST"]["value"] == "0.0.0.0"


def test_every_pod_and_container_is_locked_down() -> None:
    for spec in (full_site(), SiteSpec.from_resource(body())):
        for (kind, name), manifest in objects(spec).items():
            if kind != "Deployment":
                continue
            p = manifest["spec"]["template"]["spec"]
            assert p["securityContext"] == {
                "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}, name
            assert p["automountServiceAccountToken"] is False
            volumes = {v["name"]: v for v in p["volumes"]}
            assert volumes["tmp"] == {"name": "tmp", "emptyDir": {}}
            for c in [*p["containers"], *p.get("initContainers", [])]:
                assert c["securityContext"] == {
                    "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]}}, (name, c["name"])
                assert c["imagePullPolicy"] == spec.image_pull_policy
                assert env_of(c)["HOME"]["value"] == "/tmp"
                mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
                assert mounts["/tmp"]["name"] == "tmp"
                assert mounts["/var/lib/hotline"]["name"] == "data"
                assert c["command"][0] == "python"
                # Each mount is a distinct path: none inside a read-only ConfigMap volume.
                paths = sorted(mounts)
                assert not any(b.startswith(a + "/") and mounts[a]["name"] != "data"
                               for a in paths for b in paths if a != b), paths


def test_the_caller_token_key_reaches_every_pod_from_its_secret() -> None:
    for name, p in ((n, pod(full_site(), n)) for n in (
            "site-a-media-nodes", "site-a-stream-workers", "site-a-interval-adoption-site-b")):
        containers = [*p["spec"]["containers"], *p["spec"].get("initContainers", [])]
        for c in containers[:1]:
            assert env_of(c)["HOTLINE_CALLER_TOKEN_KEY"]["valueFrom"] == {"secretKeyRef": {
                "name": "hotline-caller-token", "key": "token-key"}}, name
    minimal = pod(SiteSpec.from_resource(body()), "site-a-media-nodes")
    assert "HOTLINE_CALLER_TOKEN_KEY" not in env_of(minimal["spec"]["containers"][0])
    key = SiteSpec.from_resource(body(callerTokenKey={"secretRef": "s"})).caller_token_key
    assert key is not None and key.key == "token-key"


def test_the_media_pool_command_is_what_the_pool_and_its_workers_parse() -> None:
    p = pod(full_site(), "site-a-media-nodes")
    main = p["spec"]["containers"][0]
    assert main["command"][:3] == ["python", "-m", "hotline_media_nodes.pool"]
    env = env_of(main)
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    args = pool_args(expand(main["command"][3:], {"POD_NAME": "mn-7", "POD_IP": "10.1.2.3"}))
    assert args.workers == 3
    assert [str(f) for f in args.flow] == ["/etc/hotline/flows/acme.yaml",
                                           "/etc/hotline/flows/globex.yaml"]
    assert args.allow == ["10.0.0.0/8", "192.168.1.7"]
    assert (args.kafka, args.site, args.media_node, args.bind) == (
        "kafka-a.example:9092", "site-a", "mn-7", "10.1.2.3")
    assert (args.sip_port_base, args.health_port, args.drain_seconds) == (5080, 8090, 120)
    assert str(args.workdir) == "/var/lib/hotline/pool"
    assert str(args.prompt_cache) == "/var/lib/hotline/prompts"
    # The pool hands --worker-arg on to every worker, whose parser must take them.
    slot = Slot(1, "mn-7.w1", 5081, None)
    argv = Pool.worker_argv(SimpleNamespace(args=args), slot)  # type: ignore[arg-type]
    worker = worker_args(argv[3:])
    assert worker.agent_uri_template == "sip:{agent_id}@pbx.example:5060"
    assert worker.dial_uri_template == "sip:{number}@carrier.example"
    assert str(worker.recordings) == "/var/lib/hotline/recordings"
    assert (worker.sip_port, worker.bind) == (5081, "10.1.2.3")
    assert p["spec"]["terminationGracePeriodSeconds"] == 150  # drain + 30


def test_the_init_container_renders_the_flows_prompts_into_the_pools_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    p = pod(full_site(), "site-a-media-nodes")
    (init,) = p["spec"]["initContainers"]
    assert init["image"] == p["spec"]["containers"][0]["image"]
    assert init["command"][:3] == ["python", "-m", "hotline_media_nodes.cli"]
    seen: dict[str, Any] = {"flows": []}

    def load_flow(path: Path) -> Any:
        seen["flows"].append(str(path))
        return SimpleNamespace(tenant=path.stem)

    def install(flow: Any, cache: Path | None) -> dict[str, Any]:
        seen["cache"] = str(cache)
        return {}

    monkeypatch.setattr(media_cli, "load_flow", load_flow)
    monkeypatch.setattr(media_cli, "install_prompts", install)
    monkeypatch.setattr(media_cli, "validate_flow", lambda flow, durations: None)
    assert media_cli.main(init["command"][3:]) == 0
    assert seen == {"flows": ["/etc/hotline/flows/acme.yaml", "/etc/hotline/flows/globex.yaml"],
                    "cache": "/var/lib/hotline/prompts"}
    for c in (init, p["spec"]["containers"][0]):
        mounts = {m["name"]: m for m in c["volumeMounts"]}
        assert mounts["flows"] == {"name": "flows", "mountPath": "/etc/hotline/flows",
                                   "readOnly": True}
        assert mounts["data"]["mountPath"] == "/var/lib/hotline"  # the shared cache
    volumes = {v["name"]: v for v in p["spec"]["volumes"]}
    assert volumes["flows"]["configMap"] == {"name": "hotline-flows"}
    assert p["metadata"]["annotations"][FLOWS_CHECKSUM_ANNOTATION] == "abc123"


def test_a_changed_flow_checksum_rolls_the_media_nodes() -> None:
    changed = copy.deepcopy(FULL_SPEC)
    changed["mediaNodes"]["flows"]["checksum"] = "def456"
    before = pod(full_site(), "site-a-media-nodes")
    after = pod(SiteSpec.from_resource(body(**changed)), "site-a-media-nodes")
    assert before != after
    assert before["spec"] == after["spec"]


def test_without_flows_there_is_no_init_container_and_no_flow_argument() -> None:
    p = pod(SiteSpec.from_resource(body()), "site-a-media-nodes")
    assert "initContainers" not in p["spec"]
    assert "--flow" not in p["spec"]["containers"][0]["command"]


def test_recordings_need_the_volume_and_the_key() -> None:
    p = pod(full_site(), "site-a-media-nodes")
    main = p["spec"]["containers"][0]
    volumes = {v["name"]: v for v in p["spec"]["volumes"]}
    assert volumes["recordings"]["persistentVolumeClaim"] == {"claimName": "recordings"}
    assert volumes["recording-key"]["secret"]["secretName"] == "hotline-recording-key"
    mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
    assert mounts["recordings"] == "/var/lib/hotline/recordings"
    assert env_of(main)["HOTLINE_RECORDING_KEY_FILE"]["value"] == \
        mounts["recording-key"] + "/key"
    no_volume = copy.deepcopy(FULL_SPEC)
    del no_volume["mediaNodes"]["recordings"]
    main = pod(SiteSpec.from_resource(body(**no_volume)),
               "site-a-media-nodes")["spec"]["containers"][0]
    assert not any("--recordings" in a for a in main["command"])
    assert "recordings" not in {m["name"] for m in main["volumeMounts"]}


def test_media_ports_probes_and_service() -> None:
    spec = full_site()
    main = pod(spec, "site-a-media-nodes")["spec"]["containers"][0]
    assert main["ports"] == [
        {"name": "sip-0", "containerPort": 5080, "protocol": "UDP"},
        {"name": "sip-1", "containerPort": 5081, "protocol": "UDP"},
        {"name": "sip-2", "containerPort": 5082, "protocol": "UDP"},
        {"name": "http", "containerPort": 8090, "protocol": "TCP"}]
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    service = objects(spec)[("Service", "site-a-media-nodes")]["spec"]
    ports = {p["name"]: (p["port"], p["targetPort"], p["protocol"]) for p in service["ports"]}
    assert ports == {"sip": (5060, 5080, "UDP"), "sip-0": (5080, 5080, "UDP"),
                     "sip-1": (5081, 5081, "UDP"), "sip-2": (5082, 5082, "UDP"),
                     "http": (8090, 8090, "TCP")}
    assert service["type"] == "ClusterIP"


def test_the_pools_health_server_answers_the_probe_paths() -> None:
    server = HealthServer("127.0.0.1", 0, {"media_node": "mn", "site": "site-a"},
                          Snapshot("starting"))
    try:
        for path, code in (("/healthz", 200), ("/readyz", 503)):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}",
                                            timeout=5) as r:
                    status = r.status
            except urllib.error.HTTPError as err:
                status = err.code
            assert status == code, path
    finally:
        server.close()


def test_on_the_nodes_network_one_pod_is_replaced_at_a_time() -> None:
    deployments = {n: m for (k, n), m in objects(full_site()).items() if k == "Deployment"}
    one_at_a_time = {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert deployments["site-a-media-nodes"]["spec"]["strategy"] == one_at_a_time
    assert deployments["site-a-stream-workers"]["spec"]["strategy"] == one_at_a_time
    assert deployments["site-a-interval-adoption-site-b"]["spec"]["strategy"] == {
        "type": "Recreate"}
    for name in deployments:
        p = deployments[name]["spec"]["template"]["spec"]
        assert (p["hostNetwork"], p["dnsPolicy"]) == (True, "ClusterFirstWithHostNet"), name
    minimal = {n: m for (k, n), m in objects(SiteSpec.from_resource(body())).items()
               if k == "Deployment"}
    assert "strategy" not in minimal["site-a-media-nodes"]["spec"]
    assert "strategy" not in minimal["site-a-stream-workers"]["spec"]


def test_host_network_is_separate_for_media_nodes_and_streams() -> None:
    only_streams = copy.deepcopy(FULL_SPEC)
    only_streams["mediaNodes"]["network"] = {"mode": "loadBalancer"}
    spec = SiteSpec.from_resource(body(**only_streams))
    assert "hostNetwork" not in pod(spec, "site-a-media-nodes")["spec"]
    assert pod(spec, "site-a-stream-workers")["spec"]["hostNetwork"] is True
    assert objects(spec)[("Service", "site-a-media-nodes")]["spec"]["type"] == "LoadBalancer"


def test_the_stream_worker_runs_faust_with_its_pages_where_the_probes_look() -> None:
    spec = full_site()
    main = pod(spec, "site-a-stream-workers")["spec"]["containers"][0]
    assert main["command"] == ["python", "-m", "hotline_streams", "worker", "-l", "info"]
    names = [e["name"] for e in main["env"]]
    assert names.index("POD_IP") < names.index("HOTLINE_STREAMS_WEB_HOST")
    values = {e["name"]: e["value"] for e in main["env"] if "value" in e}
    resolved = {k: v.replace("$(POD_IP)", "192.0.2.7") for k, v in values.items()}
    settings = StreamSettings.from_env(resolved)
    assert (settings.web_host, settings.web_port) == ("192.0.2.7", 6070)
    assert settings.canonical_url == "http://192.0.2.7:6070"
    assert str(settings.data_dir) == "/var/lib/hotline/streams"
    assert main["ports"] == [{"name": "http", "containerPort": 6070, "protocol": "TCP"}]
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["startupProbe"]["httpGet"]["path"] == "/healthz"
    service = objects(spec)[("Service", "site-a-stream-workers")]["spec"]
    assert service["ports"] == [{"name": "http", "port": 6070, "targetPort": "http"}]
    # The streams' health module serves both paths (read as text: importing it starts
    # the Faust app's setup).
    origin = importlib.util.find_spec("hotline_streams.health")
    assert origin is not None and origin.submodule_search_locations
    source = (Path(next(iter(origin.submodule_search_locations))) / "wiring.py").read_text()
    assert '@app.page("/readyz")' in source and '@app.page("/healthz")' in source


def test_scheduling_is_copied_verbatim() -> None:
    spec = full_site()
    media = pod(spec, "site-a-media-nodes")["spec"]
    assert media["nodeSelector"] == FULL_SPEC["mediaNodes"]["nodeSelector"]
    assert media["tolerations"] == FULL_SPEC["mediaNodes"]["tolerations"]
    assert media["affinity"] == FULL_SPEC["mediaNodes"]["affinity"]
    assert media["containers"][0]["resources"] == FULL_SPEC["mediaNodes"]["resources"]
    assert media["initContainers"][0]["resources"] == FULL_SPEC["mediaNodes"]["resources"]
    streams = pod(spec, "site-a-stream-workers")["spec"]
    assert streams["containers"][0]["resources"] == FULL_SPEC["streamWorkers"]["resources"]
    adoption = pod(spec, "site-a-interval-adoption-site-b")["spec"]
    for p in (streams, adoption):
        assert p["nodeSelector"] == FULL_SPEC["streamWorkers"]["nodeSelector"]
        assert p["tolerations"] == FULL_SPEC["streamWorkers"]["tolerations"]
        assert p["affinity"] == FULL_SPEC["streamWorkers"]["affinity"]
    # The adoption consumer keeps its small request (not a stream worker's core).
    assert adoption["containers"][0]["resources"]["requests"]["cpu"] == "50m"
    minimal = pod(SiteSpec.from_resource(body()), "site-a-media-nodes")["spec"]
    assert not {"nodeSelector", "tolerations", "affinity"} & set(minimal)
