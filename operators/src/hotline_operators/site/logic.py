"""The objects a site needs, as plain manifests: a pure function of its spec.

Every object carries the standard app.kubernetes.io labels and an owner reference to
the ContactCenterSite, so `kubectl get all -l hotline.dev/site=<site>` finds them
and deleting the site deletes them (where a garbage collector runs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from hotline_operators import crds
from hotline_operators.queues.logic import TENANTS_CONFIG_MAP, TENANTS_DIR
from hotline_operators.site.models import Profile, SiteSpec

MANAGED_BY = "hotline-operator"
Manifest = dict[str, Any]
STREAMS_PORT = 6066  # the stream workers' pages (hotline_streams settings: web_port)


def labels(spec: SiteSpec, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": f"hotline-{component}",
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "hotline",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "hotline.dev/site": spec.site,
    }


def owner_reference(spec: SiteSpec) -> dict[str, Any]:
    return {"apiVersion": f"{crds.GROUP}/{crds.VERSION}", "kind": "ContactCenterSite",
            "name": spec.name, "uid": spec.uid, "controller": True,
            "blockOwnerDeletion": True}


def _meta(spec: SiteSpec, name: str, component: str) -> dict[str, Any]:
    return {"name": name, "namespace": spec.namespace, "labels": labels(spec, component),
            "ownerReferences": [owner_reference(spec)]}


def config_map(spec: SiteSpec) -> Manifest:
    settings = {
        "site": spec.site, "peers": list(spec.peers),
        "kafka": {"bootstrapServers": spec.kafka_bootstrap},
        "cassandra": {"contactPoints": list(spec.cassandra_contact_points),
                      "localDatacenter": spec.cassandra_datacenter},
        "witness": spec.witness_url,
        "timings": {"heartbeatIntervalSeconds": spec.heartbeat_interval_s,
                    "peerTimeoutSeconds": spec.peer_timeout_s,
                    "holdDownSeconds": spec.hold_down_s},
    }
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": _meta(spec, f"{spec.name}-site", "site-config"),
            "data": {"site.yaml": yaml.safe_dump(settings, sort_keys=True)}}


def _container_env(spec: SiteSpec) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "HOTLINE_SITE", "value": spec.site},
        {"name": "HOTLINE_KAFKA_BOOTSTRAP", "value": spec.kafka_bootstrap},
        {"name": "HOTLINE_CASSANDRA_CONTACT_POINTS",
         "value": ",".join(spec.cassandra_contact_points)},
        {"name": "HOTLINE_CASSANDRA_DC", "value": spec.cassandra_datacenter},
        {"name": "HOTLINE_SITE_CONFIG", "value": "/etc/hotline/site.yaml"},
    ]
    return env


def _deployment(spec: SiteSpec, component: str, image: str, replicas: int,
                ports: list[dict[str, Any]], secrets: list[str],
                cpu_request: str = "250m") -> Manifest:
    selector = {"app.kubernetes.io/instance": spec.name, "app.kubernetes.io/component": component}
    container: dict[str, Any] = {
        "name": component, "image": image, "env": _container_env(spec), "ports": ports,
        "volumeMounts": [{"name": "site", "mountPath": "/etc/hotline"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"},
                           "periodSeconds": 2, "failureThreshold": 2},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                          "periodSeconds": 5, "failureThreshold": 3},
        "resources": {"requests": {"cpu": cpu_request, "memory": "256Mi"},
                      "limits": {"memory": "1Gi"}},
    }
    if secrets:
        container["envFrom"] = [{"secretRef": {"name": s}} for s in secrets]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(spec, f"{spec.name}-{component}", component),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels(spec, component)},
                "spec": {
                    # Media nodes drain calls on SIGTERM; give them time to finish.
                    "terminationGracePeriodSeconds": 300 if component == "media-nodes" else 30,
                    "containers": [container],
                    "volumes": [{"name": "site", "configMap": {"name": f"{spec.name}-site"}}],
                },
            },
        },
    }


def _service(spec: SiteSpec, component: str, ports: list[dict[str, Any]],
             service_type: str = "ClusterIP") -> Manifest:
    body: dict[str, Any] = {"selector": {"app.kubernetes.io/instance": spec.name,
                                         "app.kubernetes.io/component": component},
                            "ports": ports, "type": service_type}
    if service_type == "LoadBalancer":
        # Keep the caller's address (no SNAT) so SIP and RTP see the real peer.
        body["externalTrafficPolicy"] = "Local"
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": _meta(spec, f"{spec.name}-{component}", component), "spec": body}


def media_service_ports(spec: SiteSpec) -> list[dict[str, Any]]:
    net = spec.media_network
    ports: list[dict[str, Any]] = [
        {"name": "sip", "port": net.sip_port, "protocol": "UDP", "targetPort": net.sip_port},
        {"name": "http", "port": 8080, "protocol": "TCP", "targetPort": 8080}]
    if net.mode == "loadBalancer":
        ports += [{"name": f"rtp-{p}", "port": p, "protocol": "UDP", "targetPort": p}
                  for p in range(net.rtp_port_start, net.rtp_port_end + 1)]
    return ports


def _pdb(spec: SiteSpec, component: str) -> Manifest:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": _meta(spec, f"{spec.name}-{component}", component),
            "spec": {"maxUnavailable": 1,
                     "selector": {"matchLabels": {"app.kubernetes.io/instance": spec.name,
                                                  "app.kubernetes.io/component": component}}}}


TENANTS_CHECKSUM_ANNOTATION = "hotline.dev/tenants-checksum"


def _mount_tenants(template: dict[str, Any], checksum: str | None) -> None:
    """The namespace's queue settings (queues.logic renders them from ContactCenterQueue
    objects). Optional: a site without queues yet starts with the streams' defaults.
    The checksum rolls the pods when the settings change (they are read at start)."""
    if checksum is not None:
        template.setdefault("metadata", {}).setdefault("annotations", {})[
            TENANTS_CHECKSUM_ANNOTATION] = checksum
    pod = template["spec"]
    pod["volumes"].append({"name": "tenants", "configMap": {"name": TENANTS_CONFIG_MAP,
                                                            "optional": True}})
    container = pod["containers"][0]
    container["volumeMounts"].append({"name": "tenants", "mountPath": TENANTS_DIR,
                                      "readOnly": True})
    container["env"].append({"name": "HOTLINE_TENANTS_DIR", "value": TENANTS_DIR})


def _serve_pages(template: dict[str, Any]) -> None:
    """The worker's pages on the pod's address (probes, the Service), and that address
    advertised to the other workers, which forward a tenant's pages to its holder."""
    template["spec"]["containers"][0]["env"] += [
        {"name": "HOTLINE_STREAMS_WEB_HOST", "value": "0.0.0.0"},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "HOTLINE_STREAMS_ADVERTISED_URL", "value": f"http://$(POD_IP):{STREAMS_PORT}"},
    ]


def interval_adoption(spec: SiteSpec, peer: str, secrets: list[str],
                      tenants_checksum: str | None = None) -> Manifest:
    """The consumer that finishes ``peer``'s open SLA intervals once this site adopts it
    (``python -m hotline_streams.interval_adoption``). It shadows the peer's mirrored
    call topic all the time, so it must run before a failover, not start at one."""
    component = "interval-adoption"
    lbls = {**labels(spec, component), "hotline.dev/peer": peer}
    container: dict[str, Any] = {
        "name": component, "image": spec.streams_image,
        "command": ["python", "-m", "hotline_streams.interval_adoption",
                    "--kafka", spec.kafka_bootstrap, "--site", spec.site, "--peer", peer,
                    "--tenants-dir", TENANTS_DIR],
        "env": _container_env(spec),
        "volumeMounts": [{"name": "site", "mountPath": "/etc/hotline"}],
        # No probes: the consumer serves no HTTP endpoint (it prints "ready" and logs).
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                      "limits": {"memory": "512Mi"}},
    }
    if secrets:
        container["envFrom"] = [{"secretRef": {"name": s}} for s in secrets]
    pod: dict[str, Any] = {"terminationGracePeriodSeconds": 30, "containers": [container],
                           "volumes": [{"name": "site",
                                        "configMap": {"name": f"{spec.name}-site"}}]}
    template: dict[str, Any] = {"metadata": {"labels": lbls}, "spec": pod}
    _mount_tenants(template, tenants_checksum)
    meta = _meta(spec, f"{spec.name}-interval-adoption-{peer}", component)
    meta["labels"] = lbls
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
        "spec": {
            "replicas": 1,
            # One consumer per peer at a time: a rolling update would briefly run two
            # shadows that both finish the same intervals at an adoption.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/instance": spec.name,
                                         "app.kubernetes.io/component": component,
                                         "hotline.dev/peer": peer}},
            "template": template,
        },
    }


def desired_objects(spec: SiteSpec, profile: Profile,
                    tenants_checksum: str | None = None) -> list[Manifest]:
    """``tenants_checksum``: queues.logic.tenants_checksum of the tenants ConfigMap now
    (None: not known, the pods are not annotated)."""
    secrets = [s for s in (spec.kafka_secret, spec.cassandra_secret) if s]
    net = spec.media_network
    media_ports = [{"name": "sip", "containerPort": net.sip_port, "protocol": "UDP"},
                   {"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    stream_ports = [{"name": "http", "containerPort": STREAMS_PORT, "protocol": "TCP"}]
    media = _deployment(spec, "media-nodes", spec.media_image,
                        spec.media_nodes.for_profile(profile), media_ports, secrets)
    pod = media["spec"]["template"]["spec"]
    if spec.recording_key_secret:
        # Recordings are encrypted at rest with this key; it never appears in a spec.
        pod["volumes"].append({"name": "recording-key", "secret": {
            "secretName": spec.recording_key_secret, "defaultMode": 0o400}})
        pod["containers"][0]["volumeMounts"].append(
            {"name": "recording-key", "mountPath": "/etc/hotline/recording", "readOnly": True})
        pod["containers"][0]["env"].append(
            {"name": "HOTLINE_RECORDING_KEY_FILE", "value": "/etc/hotline/recording/key"})
    if net.mode == "hostNetwork":
        pod["hostNetwork"] = True
        pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    media_type = "LoadBalancer" if net.mode == "loadBalancer" else "ClusterIP"
    # A whole core and no CPU limit: one worker uses 92-96 % of a core at 100 new
    # contacts/s (benchmarks/streams_routing.py), so at 250m the scheduler could put four
    # on a core they cannot share at peak; a CFS limit would throttle its bursts instead.
    streams = _deployment(spec, "stream-workers", spec.streams_image,
                          spec.stream_workers.for_profile(profile), stream_ports, secrets,
                          cpu_request="1")
    _mount_tenants(streams["spec"]["template"], tenants_checksum)
    _serve_pages(streams["spec"]["template"])
    return [
        config_map(spec),
        media,
        _service(spec, "media-nodes", media_service_ports(spec), media_type),
        _pdb(spec, "media-nodes"),
        streams,
        _service(spec, "stream-workers", [{"name": "http", "port": STREAMS_PORT,
                                           "targetPort": "http"}]),
        _pdb(spec, "stream-workers"),
        *(interval_adoption(spec, peer, secrets, tenants_checksum) for peer in spec.peers),
    ]


def now_text() -> str:
    """The current time as a condition's lastTransitionTime (RFC 3339, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(kind: str, status: bool, reason: str, message: str, now: str) -> dict[str, str]:
    return {"type": kind, "status": "True" if status else "False", "reason": reason,
            "message": message, "lastTransitionTime": now}


def merge_conditions(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    """Replace conditions by type, keeping lastTransitionTime when the status is unchanged."""
    by_type = {c["type"]: c for c in old}
    for c in new:
        previous = by_type.get(c["type"])
        if previous is not None and previous.get("status") == c["status"]:
            c = {**c, "lastTransitionTime": previous.get("lastTransitionTime",
                                                         c["lastTransitionTime"])}
        by_type[c["type"]] = c
    return [by_type[k] for k in sorted(by_type)]
