"""The pod templates of a site's workloads: pure functions of its spec.

Every pod runs as the images' user (uid 10001) on a read-only root filesystem without
capabilities; what it writes goes to emptyDir volumes (``/tmp``, ``/var/lib/hotline``).
None talks to the API server, so none gets a service-account token.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from hotline_operators.queues.logic import TENANTS_CONFIG_MAP, TENANTS_DIR
from hotline_operators.site.meta import labels
from hotline_operators.site.models import Scheduling, SiteSpec

UID = 10001  # the images' user
DATA_DIR = "/var/lib/hotline"  # emptyDir: everything a pod writes besides /tmp
SITE_DIR = "/etc/hotline/site"  # the site's ConfigMap (site.yaml)
FLOWS_DIR = "/etc/hotline/flows"  # spec.mediaNodes.flows.configMap
RECORDING_KEY_DIR = "/etc/hotline/recording"  # spec.recording.keySecretRef
PROMPTS_DIR = f"{DATA_DIR}/prompts"  # rendered by the init container
POOL_DIR = f"{DATA_DIR}/pool"  # the pool's worker logs
RECORDINGS_DIR = f"{DATA_DIR}/recordings"
STREAMS_DATA_DIR = f"{DATA_DIR}/streams"
FLOWS_CHECKSUM_ANNOTATION = "hotline.dev/flows-checksum"
TENANTS_CHECKSUM_ANNOTATION = "hotline.dev/tenants-checksum"
CALLER_TOKEN_KEY_ENV = "HOTLINE_CALLER_TOKEN_KEY"  # hotline_events.pii.KEY_ENV

POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
    "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY: dict[str, Any] = {
    "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]}}

Json = dict[str, Any]


def _field(name: str, path: str) -> Json:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def base_env(spec: SiteSpec) -> list[Json]:
    env: list[Json] = [
        {"name": "HOTLINE_SITE", "value": spec.site},
        {"name": "HOTLINE_KAFKA_BOOTSTRAP", "value": spec.kafka_bootstrap},
        {"name": "HOTLINE_CASSANDRA_CONTACT_POINTS",
         "value": ",".join(spec.cassandra_contact_points)},
        {"name": "HOTLINE_CASSANDRA_DC", "value": spec.cassandra_datacenter},
        {"name": "HOTLINE_SITE_CONFIG", "value": f"{SITE_DIR}/site.yaml"},
        {"name": "HOME", "value": "/tmp"},  # the root filesystem is read-only
    ]
    if spec.peers:
        # The stream workers follow the peers' agents (restored here on reconnect).
        env.append({"name": "HOTLINE_PEER_SITES", "value": ",".join(spec.peers)})
    if spec.caller_token_key is not None:
        # The caller-token HMAC key (hotline_events.pii): the same at every site.
        env.append({"name": CALLER_TOKEN_KEY_ENV, "valueFrom": {"secretKeyRef": {
            "name": spec.caller_token_key.secret, "key": spec.caller_token_key.key}}})
    return env


def _mounts() -> list[Json]:
    return [{"name": "site", "mountPath": SITE_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "data", "mountPath": DATA_DIR}]


def _volumes(spec: SiteSpec) -> list[Json]:
    return [{"name": "site", "configMap": {"name": f"{spec.name}-site"}},
            {"name": "tmp", "emptyDir": {}},
            {"name": "data", "emptyDir": {}}]


def container(spec: SiteSpec, name: str, image: str, command: list[str], env: list[Json],
              secrets: Sequence[str], resources: Json,
              scheduling: Scheduling | None = None) -> Json:
    chosen = scheduling.resources if scheduling is not None else None
    c: Json = {
        "name": name, "image": image, "imagePullPolicy": spec.image_pull_policy,
        "command": command, "env": env, "volumeMounts": _mounts(),
        "securityContext": copy.deepcopy(CONTAINER_SECURITY),
        "resources": copy.deepcopy(dict(chosen)) if chosen is not None else resources,
    }
    if secrets:
        c["envFrom"] = [{"secretRef": {"name": s}} for s in secrets]
    return c


def pod_template(spec: SiteSpec, component: str, containers: list[Json], grace_s: int,
                 scheduling: Scheduling, host_network: bool,
                 init: list[Json] | None = None) -> Json:
    pod: Json = {
        "securityContext": copy.deepcopy(POD_SECURITY),
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": grace_s,
        "containers": containers,
        "volumes": _volumes(spec),
    }
    if init:
        pod["initContainers"] = init
    if host_network:
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"  # still resolve cluster Services
    if scheduling.node_selector is not None:
        pod["nodeSelector"] = dict(scheduling.node_selector)
    if scheduling.tolerations is not None:
        pod["tolerations"] = [copy.deepcopy(dict(t)) for t in scheduling.tolerations]
    if scheduling.affinity is not None:
        pod["affinity"] = copy.deepcopy(dict(scheduling.affinity))
    return {"metadata": {"labels": labels(spec, component)}, "spec": pod}


def _annotate(template: Json, key: str, value: str) -> None:
    template["metadata"].setdefault("annotations", {})[key] = value


def _probes(port: str | int, ready_path: str, live_path: str) -> Json:
    def get(path: str) -> Json:
        return {"httpGet": {"path": path, "port": port}}
    return {
        # Until the first answer (Kafka topics prepared, prompts loaded): up to 5 minutes.
        "startupProbe": {**get(live_path), "periodSeconds": 5, "failureThreshold": 60},
        "readinessProbe": {**get(ready_path), "periodSeconds": 2, "failureThreshold": 2},
        "livenessProbe": {**get(live_path), "periodSeconds": 5, "failureThreshold": 3},
    }


# --- media nodes -------------------------------------------------------------------

def recording_on(spec: SiteSpec) -> bool:
    return spec.media_pool.recordings is not None and spec.recording_key_secret is not None


def flow_paths(spec: SiteSpec) -> list[str]:
    flows = spec.media_pool.flows
    return [] if flows is None else [f"{FLOWS_DIR}/{f}" for f in flows.files]


def pool_command(spec: SiteSpec) -> list[str]:
    """``python -m hotline_media_nodes.pool …`` (media-nodes' pool/wiring.parse_args)."""
    pool = spec.media_pool
    cmd = ["python", "-m", "hotline_media_nodes.pool", "--workers", str(pool.workers)]
    for path in flow_paths(spec):
        cmd += ["--flow", path]
    for cidr in pool.trunks:
        cmd += ["--allow", cidr]
    cmd += ["--kafka", spec.kafka_bootstrap, "--site", spec.site,
            "--media-node", "$(POD_NAME)", "--bind", "$(POD_IP)",
            "--sip-port-base", str(pool.sip_port_base), "--health-port", str(pool.health_port),
            "--workdir", POOL_DIR, "--prompt-cache", PROMPTS_DIR,
            "--drain-seconds", str(pool.drain_seconds)]
    # One token each ("--worker-arg=--x=v"): a separate value starting with "--" would
    # be taken for an option of the pool's own parser.
    if pool.agent_uri_template is not None:
        cmd.append(f"--worker-arg=--agent-uri-template={pool.agent_uri_template}")
    if pool.dial_uri_template is not None:
        cmd.append(f"--worker-arg=--dial-uri-template={pool.dial_uri_template}")
    if recording_on(spec):
        cmd.append(f"--worker-arg=--recordings={RECORDINGS_DIR}")
    return cmd


def prompts_command(spec: SiteSpec) -> list[str]:
    """Renders every flow's prompt audio into the cache the workers read (cli.py)."""
    return ["python", "-m", "hotline_media_nodes.cli", "prompts", "install",
            *flow_paths(spec), "--cache", PROMPTS_DIR]


MEDIA_RESOURCES: Json = {"requests": {"cpu": "250m", "memory": "256Mi"},
                         "limits": {"memory": "1Gi"}}


def media_ports(spec: SiteSpec) -> list[Json]:
    pool = spec.media_pool
    return [*({"name": f"sip-{i}", "containerPort": pool.sip_port_base + i, "protocol": "UDP"}
              for i in range(pool.workers)),
            {"name": "http", "containerPort": pool.health_port, "protocol": "TCP"}]


def media_template(spec: SiteSpec, secrets: Sequence[str]) -> Json:
    pool = spec.media_pool
    env = [*base_env(spec), _field("POD_NAME", "metadata.name"), _field("POD_IP", "status.podIP")]
    main = container(spec, "media-nodes", spec.media_image, pool_command(spec), env, secrets,
                     MEDIA_RESOURCES, pool.scheduling)
    main["ports"] = media_ports(spec)
    main.update(_probes("http", "/readyz", "/healthz"))  # health/adapters.HealthServer
    init: list[Json] = []
    if pool.flows is not None:
        prompts = container(spec, "prompts", spec.media_image, prompts_command(spec),
                            base_env(spec), (), MEDIA_RESOURCES, pool.scheduling)
        init.append(prompts)
    template = pod_template(spec, "media-nodes", [main], pool.drain_seconds + 30,
                            pool.scheduling, spec.media_network.mode == "hostNetwork", init)
    volumes = template["spec"]["volumes"]
    if pool.flows is not None:
        volumes.append({"name": "flows", "configMap": {"name": pool.flows.config_map}})
        for c in (main, *init):
            c["volumeMounts"].append({"name": "flows", "mountPath": FLOWS_DIR,
                                      "readOnly": True})
        if pool.flows.checksum:
            _annotate(template, FLOWS_CHECKSUM_ANNOTATION, pool.flows.checksum)
    if spec.recording_key_secret:
        # Recordings are encrypted at rest with this key; it never appears in a spec.
        volumes.append({"name": "recording-key", "secret": {
            "secretName": spec.recording_key_secret, "defaultMode": 0o440}})
        main["volumeMounts"].append({"name": "recording-key", "mountPath": RECORDING_KEY_DIR,
                                     "readOnly": True})
        main["env"].append({"name": "HOTLINE_RECORDING_KEY_FILE",
                            "value": f"{RECORDING_KEY_DIR}/key"})
    if recording_on(spec):
        rec = spec.media_pool.recordings
        assert rec is not None
        volumes.append({"name": "recordings", **(
            {"persistentVolumeClaim": {"claimName": rec.claim_name}}
            if rec.volume == "persistentVolumeClaim" else {"emptyDir": {}})})
        main["volumeMounts"].append({"name": "recordings", "mountPath": RECORDINGS_DIR})
    return template


# --- stream workers and interval adoption ------------------------------------------

STREAMS_RESOURCES: Json = {
    # A whole core and no CPU limit: one worker uses 92-96 % of a core at 100 new
    # contacts/s (benchmarks/streams_routing.py), so at 250m the scheduler could put
    # four on a core they cannot share at peak; a CFS limit would throttle its bursts.
    "requests": {"cpu": "1", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
ADOPTION_RESOURCES: Json = {"requests": {"cpu": "50m", "memory": "128Mi"},
                            "limits": {"memory": "512Mi"}}


def _mount_tenants(template: Json, checksum: str | None) -> None:
    """The namespace's queue settings (queues.logic renders them from ContactCenterQueue
    objects). Optional: a site without queues yet starts with the streams' defaults.
    The checksum rolls the pods when the settings change (they are read at start)."""
    if checksum is not None:
        _annotate(template, TENANTS_CHECKSUM_ANNOTATION, checksum)
    pod = template["spec"]
    pod["volumes"].append({"name": "tenants", "configMap": {"name": TENANTS_CONFIG_MAP,
                                                            "optional": True}})
    main = pod["containers"][0]
    main["volumeMounts"].append({"name": "tenants", "mountPath": TENANTS_DIR,
                                 "readOnly": True})
    main["env"].append({"name": "HOTLINE_TENANTS_DIR", "value": TENANTS_DIR})


def streams_env(spec: SiteSpec) -> list[Json]:
    """The worker's pages on the pod's address (probes, the Service) and that address
    advertised to the other workers, which forward a tenant's pages to its holder. On
    the node's network it binds the node's address only, not every interface."""
    port = spec.streams_port
    return [
        _field("POD_IP", "status.podIP"),  # before its $(POD_IP) uses: kubelet order
        {"name": "HOTLINE_STREAMS_WEB_HOST",
         "value": "$(POD_IP)" if spec.host_network else "0.0.0.0"},
        {"name": "HOTLINE_STREAMS_WEB_PORT", "value": str(port)},
        {"name": "HOTLINE_STREAMS_ADVERTISED_URL", "value": f"http://$(POD_IP):{port}"},
        {"name": "HOTLINE_STREAMS_DATA_DIR", "value": STREAMS_DATA_DIR},
    ]


def streams_template(spec: SiteSpec, secrets: Sequence[str], checksum: str | None) -> Json:
    main = container(spec, "stream-workers", spec.streams_image,
                     ["python", "-m", "hotline_streams", "worker", "-l", "info"],
                     base_env(spec), secrets, STREAMS_RESOURCES, spec.streams_scheduling)
    main["ports"] = [{"name": "http", "containerPort": spec.streams_port, "protocol": "TCP"}]
    # /readyz (= /ready): partitions assigned, tables recovered; /healthz: loop alive.
    main.update(_probes("http", "/readyz", "/healthz"))
    template = pod_template(spec, "stream-workers", [main], 30, spec.streams_scheduling,
                            spec.host_network)
    _mount_tenants(template, checksum)
    main["env"] += streams_env(spec)
    return template


def adoption_template(spec: SiteSpec, peer: str, secrets: Sequence[str],
                      checksum: str | None) -> Json:
    """``python -m hotline_streams.interval_adoption``: no probes (it serves no HTTP).
    The stream workers' placement, not their resources (a whole core each)."""
    placement = Scheduling(node_selector=spec.streams_scheduling.node_selector,
                            tolerations=spec.streams_scheduling.tolerations,
                            affinity=spec.streams_scheduling.affinity)
    main = container(spec, "interval-adoption", spec.streams_image,
                     ["python", "-m", "hotline_streams.interval_adoption",
                      "--kafka", spec.kafka_bootstrap, "--site", spec.site, "--peer", peer,
                      "--tenants-dir", TENANTS_DIR],
                     base_env(spec), secrets, ADOPTION_RESOURCES)
    template = pod_template(spec, "interval-adoption", [main], 30, placement,
                            spec.host_network)
    template["metadata"]["labels"]["hotline.dev/peer"] = peer
    _mount_tenants(template, checksum)
    return template
