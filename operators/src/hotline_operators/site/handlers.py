"""kopf handlers for ContactCenterSite: thin wiring around site.logic.

Reconcile on create/update/resume, again every few seconds (drift repair), and at
once when an owned object is deleted, so `kubectl delete deployment …` is undone in
seconds, not at the next resync.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import kopf
from kubernetes import client

from hotline_operators import crds
from hotline_operators.failover.logic import serving_failed
from hotline_operators.queues.adapters import QueueStore
from hotline_operators.queues.logic import tenants_checksum
from hotline_operators.site.adapters import Applier
from hotline_operators.site.logic import (
    MANAGED_BY,
    condition,
    desired_objects,
    merge_conditions,
    now_text,
)
from hotline_operators.site.models import Profile, SiteSpec

REPAIR_INTERVAL_S = 5.0
# kopf retries a failed handler after 60 s by default: far too slow for a site.
RETRY_BACKOFF_S = 2.0


def _profile(status: dict[str, Any]) -> Profile:
    serving = serving_failed(list(status.get("failedPeers") or []),
                             [p for p, fb in (status.get("failbacks") or {}).items() if fb])
    return "failover" if serving else "normal"


_RECONCILING: dict[tuple[str, str], threading.Lock] = {}
_RECONCILING_GUARD = threading.Lock()


def _site_lock(namespace: str, name: str) -> threading.Lock:
    with _RECONCILING_GUARD:
        return _RECONCILING.setdefault((namespace, name), threading.Lock())


def reconcile_site(body: dict[str, Any], logger: logging.Logger | logging.LoggerAdapter[Any]
                   ) -> tuple[SiteSpec, Profile, int]:
    # One reconcile of a site at a time (create, timer, repair and the failover's scale
    # step run in different threads): otherwise a slow one that read the site before a
    # failover could finish after the scale step and put the normal profile back.
    meta = body["metadata"]
    with _site_lock(str(meta["namespace"]), str(meta["name"])):
        return _reconcile_site(body, logger)


def _reconcile_site(body: dict[str, Any], logger: logging.Logger | logging.LoggerAdapter[Any]
                    ) -> tuple[SiteSpec, Profile, int]:
    # Read the site afresh: a timer's or event's body can predate a failover that
    # just changed the profile, and applying it would scale the site back.
    meta = body["metadata"]
    api_client = client.ApiClient()
    checksum = tenants_checksum(QueueStore(api_client).tenants_data(meta["namespace"]))
    try:
        fresh: Any = client.CustomObjectsApi().get_namespaced_custom_object(
            crds.GROUP, crds.VERSION, meta["namespace"], crds.SITES, meta["name"])
        body = dict(fresh)
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    spec = SiteSpec.from_resource(body)
    profile = _profile(dict(body.get("status") or {}))
    manifests = desired_objects(spec, profile, checksum)
    applier = Applier(api_client)
    for manifest in manifests:
        applier.apply(manifest)
    logger.debug("site %s: %d objects applied (%s profile)", spec.site, len(manifests), profile)
    return spec, profile, len(manifests)


@kopf.on.create(crds.GROUP, crds.VERSION, crds.SITES, backoff=RETRY_BACKOFF_S)
@kopf.on.update(crds.GROUP, crds.VERSION, crds.SITES, field="spec", backoff=RETRY_BACKOFF_S)
@kopf.on.resume(crds.GROUP, crds.VERSION, crds.SITES, backoff=RETRY_BACKOFF_S)
def reconcile(body: kopf.Body, patch: kopf.Patch, logger: kopf.Logger, **_: Any) -> None:
    try:
        spec, profile, count = reconcile_site(dict(body), logger)
    except client.ApiException as exc:
        kopf.warn(body, reason="ReconcileFailed",
                  message=f"applying the site's objects failed ({exc.status} {exc.reason}); "
                          "retrying")
        raise kopf.TemporaryError(f"apply failed: {exc.reason}", delay=2) from exc
    status = dict(body.get("status") or {})
    patch.status["conditions"] = merge_conditions(
        list(status.get("conditions") or []),
        [condition("Ready", True, "Reconciled",
                   f"{count} objects applied for the {profile} profile", now_text())])
    patch.status["trafficShare"] = status.get("trafficShare", spec.traffic_share)
    patch.status["observedGeneration"] = body.get("metadata", {}).get("generation")
    kopf.info(body, reason="Reconciled",
              message=f"site {spec.site}: media nodes {spec.media_nodes.for_profile(profile)}, "
                      f"stream workers {spec.stream_workers.for_profile(profile)} ({profile})")


@kopf.timer(crds.GROUP, crds.VERSION, crds.SITES, interval=REPAIR_INTERVAL_S,
            initial_delay=REPAIR_INTERVAL_S, backoff=RETRY_BACKOFF_S)
def repair(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
    reconcile_site(dict(body), logger)


def _owner_site(meta: dict[str, Any]) -> str | None:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "ContactCenterSite":
            return str(ref["name"])
    return None


def _on_owned_event(event: kopf.RawEvent, logger: kopf.Logger) -> None:
    if event["type"] != "DELETED":
        return
    meta: dict[str, Any] = dict(event["object"]["metadata"])
    site_name = _owner_site(meta)
    if site_name is None:
        return
    try:
        site: Any = client.CustomObjectsApi().get_namespaced_custom_object(
            crds.GROUP, crds.VERSION, meta["namespace"], crds.SITES, site_name)
    except client.ApiException as exc:
        if exc.status == 404:
            return  # the site itself is going away
        raise
    logger.warning("%s %s of site %s was deleted; recreating it",
                   event["object"]["kind"], meta["name"], site_name)
    reconcile_site(site, logger)
    kopf.warn(site, reason="Repaired",
              message=f"{event['object']['kind']} {meta['name']} was deleted and recreated")


_OWNED = {"app.kubernetes.io/managed-by": MANAGED_BY}


@kopf.on.event("apps", "v1", "deployments", labels=_OWNED)
def owned_deployment(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    _on_owned_event(event, logger)


@kopf.on.event("v1", "services", labels=_OWNED)
def owned_service(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    _on_owned_event(event, logger)


@kopf.on.event("v1", "configmaps", labels=_OWNED)
def owned_config_map(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    _on_owned_event(event, logger)


@kopf.on.event("policy", "v1", "poddisruptionbudgets", labels=_OWNED)
def owned_pdb(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    _on_owned_event(event, logger)
