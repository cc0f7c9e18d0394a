"""The objects a site needs, as plain manifests: a pure function of its spec.

Every object carries the standard app.kubernetes.io labels and an owner reference to
the ContactCenterSite, so `kubectl get all -l hotline.dev/site=<site>` finds them
and deleting the site deletes them (the garbage collector). The pod templates are in
site.pods.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from hotline_operators.site.meta import (
    MANAGED_BY,
    Manifest,
    labels,
    object_meta,
    owner_reference,
    selector,
)
from hotline_operators.site.models import Profile, SiteSpec
from hotline_operators.site.pods import (
    FLOWS_CHECKSUM_ANNOTATION,
    TENANTS_CHECKSUM_ANNOTATION,
    adoption_template,
    media_template,
    streams_template,
)

__all__ = ["FLOWS_CHECKSUM_ANNOTATION", "MANAGED_BY", "TENANTS_CHECKSUM_ANNOTATION",
           "condition", "config_map", "deployment_names", "desired_objects", "labels",
           "merge_conditions", "now_text", "owner_reference"]

# Ports on a node cannot be shared by two pods: replace one pod at a time, old first.
ONE_AT_A_TIME = {"type": "RollingUpdate",
                 "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


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
            "metadata": object_meta(spec, f"{spec.name}-site", "site-config"),
            "data": {"site.yaml": yaml.safe_dump(settings, sort_keys=True)}}


def _deployment(spec: SiteSpec, component: str, replicas: int, template: dict[str, Any],
                strategy: dict[str, Any] | None = None, name: str | None = None,
                extra_selector: dict[str, str] | None = None) -> Manifest:
    meta = object_meta(spec, name or f"{spec.name}-{component}", component)
    meta["labels"] = dict(template["metadata"]["labels"])
    body: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {**selector(spec, component), **(extra_selector or {})}},
        "template": template,
    }
    if strategy is not None:
        body["strategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": body}


def _service(spec: SiteSpec, component: str, ports: list[dict[str, Any]],
             service_type: str = "ClusterIP") -> Manifest:
    body: dict[str, Any] = {"selector": selector(spec, component), "ports": ports,
                            "type": service_type}
    if service_type == "LoadBalancer":
        # Keep the caller's address (no SNAT) so SIP and RTP see the real peer.
        body["externalTrafficPolicy"] = "Local"
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": object_meta(spec, f"{spec.name}-{component}", component), "spec": body}


def media_service_ports(spec: SiteSpec) -> list[dict[str, Any]]:
    """``sip`` (spec.mediaNodes.network.sipPort) reaches worker 0 of a pod; ``sip-<i>``
    each worker on its own port; ``http`` the pool's health pages."""
    net, pool = spec.media_network, spec.media_pool
    ports: list[dict[str, Any]] = [
        {"name": "sip", "port": net.sip_port, "protocol": "UDP",
         "targetPort": pool.sip_port_base}]
    ports += [{"name": f"sip-{i}", "port": pool.sip_port_base + i, "protocol": "UDP",
               "targetPort": pool.sip_port_base + i}
              for i in range(pool.workers) if pool.sip_port_base + i != net.sip_port]
    ports.append({"name": "http", "port": pool.health_port, "protocol": "TCP",
                  "targetPort": pool.health_port})
    if net.mode == "loadBalancer":
        ports += [{"name": f"rtp-{p}", "port": p, "protocol": "UDP", "targetPort": p}
                  for p in range(net.rtp_port_start, net.rtp_port_end + 1)]
    return ports


def _pdb(spec: SiteSpec, component: str) -> Manifest:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": object_meta(spec, f"{spec.name}-{component}", component),
            "spec": {"maxUnavailable": 1,
                     "selector": {"matchLabels": selector(spec, component)}}}


def interval_adoption(spec: SiteSpec, peer: str, secrets: list[str],
                      tenants_checksum: str | None = None) -> Manifest:
    """The consumer that finishes ``peer``'s open SLA intervals once this site adopts it
    (``python -m hotline_streams.interval_adoption``). It shadows the peer's mirrored
    call topic all the time, so it must run before a failover, not start at one."""
    # One consumer per peer at a time: a rolling update would briefly run two shadows
    # that both finish the same intervals at an adoption.
    return _deployment(spec, "interval-adoption", 1,
                       adoption_template(spec, peer, secrets, tenants_checksum),
                       strategy={"type": "Recreate"},
                       name=f"{spec.name}-interval-adoption-{peer}",
                       extra_selector={"hotline.dev/peer": peer})


def desired_objects(spec: SiteSpec, profile: Profile,
                    tenants_checksum: str | None = None) -> list[Manifest]:
    """``tenants_checksum``: queues.logic.tenants_checksum of the tenants ConfigMap now
    (None: not known, the pods are not annotated)."""
    secrets = [s for s in (spec.kafka_secret, spec.cassandra_secret) if s]
    media_host = spec.media_network.mode == "hostNetwork"
    media = _deployment(spec, "media-nodes", spec.media_nodes.for_profile(profile),
                        media_template(spec, secrets),
                        strategy=ONE_AT_A_TIME if media_host else None)
    streams = _deployment(spec, "stream-workers", spec.stream_workers.for_profile(profile),
                          streams_template(spec, secrets, tenants_checksum),
                          strategy=ONE_AT_A_TIME if spec.host_network else None)
    return [
        config_map(spec),
        media,
        _service(spec, "media-nodes", media_service_ports(spec),
                 "ClusterIP" if media_host else "LoadBalancer"),
        _pdb(spec, "media-nodes"),
        streams,
        _service(spec, "stream-workers", [{"name": "http", "port": spec.streams_port,
                                           "targetPort": "http"}]),
        _pdb(spec, "stream-workers"),
        *(interval_adoption(spec, peer, secrets, tenants_checksum) for peer in spec.peers),
    ]


def deployment_names(spec: SiteSpec) -> list[str]:
    """The Deployments a site owns (the same for both profiles)."""
    return [m["metadata"]["name"] for m in desired_objects(spec, "normal")
            if m["kind"] == "Deployment"]


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
