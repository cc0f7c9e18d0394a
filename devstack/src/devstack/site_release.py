"""Hotline from its Helm chart on the dev stack's node: values, Secrets, helm.

``./hotline run --profile node`` and the node e2e tests install a site this way. Kafka
and Cassandra stay outside the cluster (as the managed services many sites use) and
listen on the node's own addresses, so the chart runs its data plane on the node's
network (``hostNetwork``); the operator and ``helm test`` stay on the pod network. The
images are the ones ``devstack images build`` made, imported into the node: nothing is
pulled (``pullPolicy: Never``).
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devstack.images import Image
from devstack.process import wait_for

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "hotline"
DEMO_FLOW = REPO / "media-nodes" / "flows" / "demo-bank.yaml"
DEMO_TENANT = "demo-bank"
# The demo tenant's queues (streams/config-examples/demo-bank.yaml) as the chart's
# ContactCenterQueue values.
DEMO_QUEUES: list[dict[str, Any]] = [
    {"tenant": DEMO_TENANT, "queue": "general", "skills": ["general"],
     "serviceLevel": {"thresholdSeconds": 20, "targetPercent": 80}, "ringTimeoutSeconds": 15},
    {"tenant": DEMO_TENANT, "queue": "cards", "skills": ["cards"], "ringTimeoutSeconds": 15,
     "overflow": [{"afterSeconds": 30, "skills": ["general"]}]},
]
DEMO_CALLBACK_POLICY = {"time_zone": "UTC", "max_attempts": 3, "retry_backoff_s": 60,
                        "default_window_s": 3600, "auto_callback_surge_level": 3,
                        "claim_ttl_s": 30, "dial_timeout_s": 90, "figures_interval_s": 900}
# The chart's value names of the images devstack builds.
CHART_IMAGES = {"operator": "operator", "streams": "streams", "mediaNode": "media-node",
                "edge": "edge"}
TOKEN_SECRET, RECORDING_SECRET = "hotline-caller-token", "hotline-recording-key"
WITNESS_KEYS_SECRET = "hotline-witness-keys"  # the chart's witness.keysSecret default


@dataclass(frozen=True)
class SitePorts:
    """The node's ports the site's data plane listens on (the node's network)."""

    edge: int  # Kamailio, UDP and TCP
    streams: int  # the stream workers' pages and agent API
    callbacks: int  # the callback scheduler's health and metrics
    media_health: int  # the media-node pool's /healthz /readyz /metrics
    sip_port_base: int  # worker i of the media-node pod listens on base+i
    operator_health: int  # the operator's /healthz

    @classmethod
    def free(cls) -> SitePorts:
        """Ports free on the node now, one for each."""
        return cls(edge=free_node_port(), streams=free_node_port(), callbacks=free_node_port(),
                   media_health=free_node_port(), sip_port_base=free_node_port(),
                   operator_health=free_node_port())

    def all(self, workers: int) -> list[int]:
        """Every port the site listens on, its media workers' SIP ports included."""
        return [self.edge, self.streams, self.callbacks, self.media_health,
                self.operator_health, *(self.sip_port_base + i for i in range(workers))]


def free_node_port() -> int:
    """A port free on every address of the node for both UDP and TCP (the edge takes
    both; the data plane listens on the node's network)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("0.0.0.0", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("0.0.0.0", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP on the node")


def image_values(images: Mapping[str, Image]) -> dict[str, Any]:
    """The chart's ``images`` block for images built by devstack (imported, never pulled)."""
    values: dict[str, Any] = {"pullPolicy": "Never"}
    for key, name in CHART_IMAGES.items():
        image = images[name]
        registry, _, repository = image.repository.partition("/")
        values[key] = {"registry": registry, "repository": repository, "tag": image.tag,
                       "digest": ""}
    return values


def site_values(*, site: str, peers: Sequence[str], kafka: str, cassandra: str,
                datacenter: str, images: Mapping[str, Image], node_ip: str,
                ports: SitePorts, agent_uri_template: str, workers: int = 2,
                flows: Mapping[str, Any] | None = None, witness: str | None = None,
                peer_probes: Mapping[str, str] | None = None, traffic_share: int = 100,
                timings: Mapping[str, int] | None = None,
                replication: Mapping[str, int] | None = None,
                keyspace: str = "hotline_callbacks",
                dial_uri_template: str | None = None) -> dict[str, Any]:
    """Values for one site on the dev node. ``flows``: name → IVR flow (default: the
    demo bank's). Callers reach the edge from the node's own addresses. ``witness``,
    ``peer_probes`` (peer → URL) and ``timings``: what a failover needs (without a
    witness the site never fails over). ``replication``: datacenter → replicas of the
    callbacks keyspace (default: one in this site's datacenter). ``dial_uri_template``:
    where callbacks are dialled (default: port 5060 of the node's address)."""
    flows = dict(flows) if flows is not None else {
        DEMO_TENANT: yaml.safe_load(DEMO_FLOW.read_text())}
    replicas: dict[str, int | None] = {dc: None for dc in ("dc-a", "dc-b")}
    replicas.update(replication or {datacenter: 1})  # None drops the chart's defaults
    return {
        "site": {"name": site, "peers": list(peers), "trafficShare": traffic_share,
                 "timings": {"heartbeatIntervalSeconds": 1, "peerTimeoutSeconds": 5,
                             "holdDownSeconds": 120, **(timings or {})},
                 "peerProbes": [{"site": peer, "url": url}
                                for peer, url in (peer_probes or {}).items()]},
        "images": image_values(images),
        "hostNetwork": True,
        "kafka": {"bootstrapServers": kafka},
        "cassandra": {"contactPoints": [cassandra], "localDatacenter": datacenter},
        "callerTokenKey": {"secretRef": TOKEN_SECRET, "key": "token-key"},
        "recording": {"keySecretRef": RECORDING_SECRET, "volume": "emptyDir"},
        "setup": {"topics": True, "keyspace": True, "topicReplicationFactor": 1},
        # Without a witness nothing answers there, so the site never fails over.
        "witness": {"url": witness or "http://127.0.0.1:9/witness"},
        "operator": {"replicas": 1, "healthPort": ports.operator_health},
        "mediaNodes": {
            "replicas": {"normal": 1, "failover": 1},
            "network": {"mode": "hostNetwork", "sipPort": ports.edge},
            "workers": workers, "sipPortBase": ports.sip_port_base,
            "healthPort": ports.media_health,
            # The edge runs on the node too: INVITEs come from the node's addresses.
            "allowFrom": [f"{node_ip}/32", "127.0.0.1/32"],
            "agentUriTemplate": agent_uri_template,
            "dialUriTemplate": dial_uri_template or f"sip:{{number}}@{node_ip}:5060",
            "drainSeconds": 60, "flows": flows,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"memory": "1Gi"}},
        },
        "streamWorkers": {"replicas": {"normal": 1, "failover": 1}, "port": ports.streams,
                          "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                        "limits": {"memory": "1Gi"}}},
        "callbacks": {"enabled": True, "replicas": 1, "port": ports.callbacks,
                      "keyspace": keyspace, "replication": replicas,
                      "policies": {DEMO_TENANT: DEMO_CALLBACK_POLICY}},
        "edge": {"enabled": True, "replicas": 1, "serviceType": "ClusterIP",
                 "trunkAllowList": [f"{node_ip}/32", "127.0.0.1/32"],
                 "probeIntervalSeconds": 1,
                 # maxLoad 2: each worker keeps a leg free to bridge a caller to an agent.
                 "destinations": [{"site": site, "address": f"{node_ip}:{ports.sip_port_base + i}",
                                   "name": f"mn-{site}.w{i}", "maxLoad": 2}
                                  for i in range(workers)]},
        "queues": DEMO_QUEUES,
        "podDisruptionBudgets": {"enabled": False},
    }


def secret_manifests(namespace: str, token_key: str | None = None,
                     witness_keys: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The caller-token key, the recording key and the sites' witness keys (site → key),
    fresh random ones by default."""
    token = token_key or secrets.token_urlsafe(32)
    recording = base64.b64encode(secrets.token_bytes(32)).decode()
    witness = dict(witness_keys) if witness_keys is not None else {
        site: secrets.token_urlsafe(32) for site in ("site-a", "site-b")}
    return [
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": WITNESS_KEYS_SECRET, "namespace": namespace},
         "stringData": witness},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": TOKEN_SECRET, "namespace": namespace},
         "stringData": {"token-key": token}},
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": {"name": RECORDING_SECRET, "namespace": namespace},
         "stringData": {"key": recording}},
    ]


class HelmError(RuntimeError):
    """A helm or kubectl command failed; the message has its output."""


@dataclass
class Release:
    """One release of the chart, driven through the real helm and kubectl."""

    name: str
    namespace: str
    kubeconfig: Path
    helm: Path
    kubectl: Path
    workdir: Path

    def _run(self, argv: list[str], timeout: float) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if done.returncode != 0:
            raise HelmError(f"{' '.join(argv)} failed (exit {done.returncode}):\n"
                            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        return done.stdout

    def helm_run(self, *args: str, timeout: float = 900) -> str:
        return self._run([str(self.helm), "--kubeconfig", str(self.kubeconfig),
                          "--namespace", self.namespace, *args], timeout)

    def kubectl_run(self, *args: str, timeout: float = 120) -> str:
        return self._run([str(self.kubectl), "--kubeconfig", str(self.kubeconfig),
                          "--namespace", self.namespace, *args], timeout)

    def _values_file(self, values: Mapping[str, Any]) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / f"{self.name}-values.yaml"
        path.write_text(yaml.safe_dump(dict(values), sort_keys=False))
        return path

    def create_namespace_and_secrets(self, token_key: str | None = None,
                                     witness_keys: Mapping[str, str] | None = None) -> None:
        manifest = self.workdir / f"{self.name}-secrets.yaml"
        self.workdir.mkdir(parents=True, exist_ok=True)
        namespace = {"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": self.namespace}}
        manifest.write_text(yaml.safe_dump_all(
            [namespace, *secret_manifests(self.namespace, token_key, witness_keys)]))
        self.kubectl_run("apply", "-f", str(manifest))

    def not_ready(self, site: str = "site-a") -> list[str]:
        """What keeps the site from serving: Deployments whose pods are not all updated
        and ready, and the site's own Ready condition (the operator's Deployments).

        ``helm --wait`` is not enough here: on the node's network a Deployment allows
        one unavailable pod (ports cannot be shared), so with one replica helm counts it
        ready before any pod is."""
        waiting: list[str] = []
        for deployment in json.loads(self.kubectl_run("get", "deploy", "-o", "json"))["items"]:
            want = deployment["spec"].get("replicas", 1)
            status = deployment.get("status", {})
            if (status.get("readyReplicas", 0), status.get("updatedReplicas", 0),
                    status.get("replicas", 0)) != (want, want, want) or status.get(
                    "observedGeneration") != deployment["metadata"]["generation"]:
                waiting.append(f"deployment {deployment['metadata']['name']} "
                               f"{status.get('readyReplicas', 0)}/{want} ready")
        sites = json.loads(self.kubectl_run("get", "contactcentersites", "-o", "json"))["items"]
        for found in sites:
            ready = next((c for c in found.get("status", {}).get("conditions", [])
                          if c["type"] == "Ready"), None)
            observed = found.get("status", {}).get("observedGeneration")
            if observed != found["metadata"]["generation"]:
                waiting.append(f"site {found['metadata']['name']}: generation "
                               f"{found['metadata']['generation']} not reconciled yet")
            elif ready is None or ready["status"] != "True":
                waiting.append(f"site {found['metadata']['name']}: "
                               f"{ready['message'] if ready else 'no Ready condition yet'}")
        if not sites:
            waiting.append(f"site {site}: not created yet")
        return waiting

    def wait_ready(self, timeout_s: float = 600) -> None:
        waiting: list[str] = []

        def ready() -> bool | None:
            waiting[:] = self.not_ready()
            return True if not waiting else None

        try:
            wait_for(ready, f"release {self.name} in {self.namespace} ready",
                     timeout=timeout_s, interval=1, error=HelmError)
        except HelmError as err:
            raise HelmError(f"{err}: " + "; ".join(waiting) + "\n" + self.pod_report()) from err

    def pod_report(self) -> str:
        """Why pods are not ready: their states and the last log lines of each pod that
        is not ready (the previous container's, when it restarted)."""
        parts: list[str] = []
        try:
            pods = json.loads(self.kubectl_run("get", "pods", "-o", "json"))["items"]
        except HelmError as err:
            return str(err)
        for pod in pods:
            name = pod["metadata"]["name"]
            statuses = pod.get("status", {}).get("containerStatuses", [])
            if statuses and all(c.get("ready") for c in statuses):
                continue
            restarts = sum(c.get("restartCount", 0) for c in statuses)
            parts.append(f"--- pod {name}: {pod.get('status', {}).get('phase')}, "
                         f"{restarts} restart(s), {[c.get('state') for c in statuses]}")
            runs: list[list[str]] = [["--previous"], []] if restarts else [[]]
            for previous in runs:
                try:
                    parts.append(self.kubectl_run("logs", name, "--all-containers",
                                                  "--tail", "30", *previous)[-4000:])
                except HelmError as err:
                    parts.append(str(err))
        return "\n".join(parts)

    def install(self, values: Mapping[str, Any], timeout_s: int = 600) -> str:
        """``helm install``, then wait until every pod of the site is ready."""
        return self._deploy("install", values, timeout_s)

    def upgrade(self, values: Mapping[str, Any], timeout_s: int = 600) -> str:
        """``helm upgrade``, then wait until every pod runs the new release and is ready."""
        return self._deploy("upgrade", values, timeout_s)

    def _deploy(self, verb: str, values: Mapping[str, Any], timeout_s: int) -> str:
        out = self.helm_run(verb, self.name, str(CHART), "-f", str(self._values_file(values)),
                            "--wait", "--timeout", f"{timeout_s}s", timeout=timeout_s + 60)
        self.wait_ready(timeout_s)
        return out

    def test(self, site: str = "site-a", timeout_s: int = 180) -> str:
        """``helm test``; its pod is deleted once it passed (the chart's hook policy), so
        its log is read only when it failed, to say why."""
        try:
            return self.helm_run("test", self.name, "--timeout", f"{timeout_s}s",
                                 timeout=timeout_s + 60)
        except HelmError as err:
            try:
                log = self.kubectl_run("logs", f"{self.name}-{site}-test")
            except HelmError as no_log:
                log = str(no_log)
            raise HelmError(f"{err}\nThe test pod's log:\n{log}") from err

    def uninstall(self, timeout_s: int = 300, wait: bool = True) -> str:
        """``helm uninstall`` (its pre-delete hook always runs); ``wait`` also waits for
        every pod to be gone."""
        return self.helm_run("uninstall", self.name, *(["--wait"] if wait else []),
                             "--timeout", f"{timeout_s}s", timeout=timeout_s + 60)
