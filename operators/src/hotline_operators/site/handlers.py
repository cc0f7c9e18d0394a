"""kopf handlers for ContactCenterSite: thin wiring around site.logic and site.readiness.

Reconcile on create/update/resume, again every few seconds (drift repair), and at
once when an owned object is deleted, so `kubectl delete deployment …` is undone in
seconds, not at the next resync. ``Ready`` follows the site's pods: the repair timer
and every change of an owned Deployment's readiness re-evaluate it.
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
from hotline_operators.site.adapters import Applier, SiteStatusStore
from hotline_operators.site.logic import (
    MANAGED_BY,
    deployment_names,
    desired_objects,
    merge_conditions,
    now_text,
)
from hotline_operators.site.models import Profile, SiteSpec
from hotline_operators.site.readiness import (
    DeploymentState,
    Readiness,
    condition_changed,
    deployment_state,
    ready_condition,
    site_readiness,
    spec_hints,
)

REPAIR_INTERVAL_S = 5.0
# kopf retries a failed handler after 60 s by default: far too slow for a site.
RETRY_BACKOFF_S = 2.0
Logger = logging.Logger | logging.LoggerAdapter[Any]


def _profile(status: dict[str, Any]) -> Profile:
    serving = serving_failed(list(status.get("failedPeers") or []),
                             [p for p, fb in (status.get("failbacks") or {}).items() if fb])
    return "failover" if serving else "normal"


_RECONCILING: dict[tuple[str, str], threading.Lock] = {}
_RECONCILING_GUARD = threading.Lock()


def _site_lock(namespace: str, name: str) -> threading.Lock:
    with _RECONCILING_GUARD:
        return _RECONCILING.setdefault((namespace, name), threading.Lock())


def reconcile_site(body: dict[str, Any], logger: Logger) -> tuple[SiteSpec, Profile, int]:
    # One reconcile of a site at a time (create, timer, repair and the failover's scale
    # step run in different threads): otherwise a slow one that read the site before a
    # failover could finish after the scale step and put the normal profile back.
    meta = body["metadata"]
    with _site_lock(str(meta["namespace"]), str(meta["name"])):
        return _reconcile_site(body, logger)


def _reconcile_site(body: dict[str, Any], logger: Logger) -> tuple[SiteSpec, Profile, int]:
    # Read the site afresh: a timer's or event's body can predate a failover that
    # just changed the profile, and applying it would scale the site back.
    meta = body["metadata"]
    api_client = client.ApiClient()
    checksum = tenants_checksum(QueueStore(api_client).tenants_data(meta["namespace"]))
    fresh = SiteStatusStore(api_client).site(meta["namespace"], meta["name"])
    if fresh is not None:
        body = fresh
    spec = SiteSpec.from_resource(body)
    profile = _profile(dict(body.get("status") or {}))
    if body["metadata"].get("deletionTimestamp"):
        # Being deleted: the garbage collector removes its objects; recreating them
        # now would only race it.
        return spec, profile, 0
    manifests = desired_objects(spec, profile, checksum)
    applier = Applier(api_client)
    for manifest in manifests:
        applier.apply(manifest)
    logger.debug("site %s: %d objects applied (%s profile)", spec.site, len(manifests), profile)
    return spec, profile, len(manifests)


def _readiness(store: SiteStatusStore, spec: SiteSpec) -> Readiness:
    return site_readiness(spec.name, deployment_names(spec),
                          store.deployments(spec.namespace, spec.name), spec_hints(spec))


def report_readiness(namespace: str, name: str, logger: Logger) -> Readiness | None:
    """Set the site's Ready condition from its Deployments (only when it changes).

    The write carries the resourceVersion read, so a condition another handler wrote
    meanwhile (FailedOver, PeerHealthy) is never overwritten with a stale list.
    """
    store = SiteStatusStore()
    for _attempt in range(3):
        site = store.site(namespace, name)
        if site is None or site["metadata"].get("deletionTimestamp"):
            return None
        spec = SiteSpec.from_resource(site)
        readiness = _readiness(store, spec)
        old = list((site.get("status") or {}).get("conditions") or [])
        new = ready_condition(readiness, now_text())
        if not condition_changed(old, new):
            return readiness
        was_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in old)
        if store.write_conditions(namespace, name, str(site["metadata"]["resourceVersion"]),
                                  merge_conditions(old, [new])):
            if readiness.ready != was_ready:
                announce = kopf.info if readiness.ready else kopf.warn
                body: Any = site
                announce(body, reason=new["reason"], message=readiness.message)
            logger.debug("site %s: Ready=%s (%s)", name, new["status"], readiness.message)
            return readiness
    logger.info("site %s changed during 3 readiness writes; the next check retries", name)
    return None


def _write_applied(namespace: str, name: str, ready: dict[str, str], traffic_share: int,
                   generation: int | None) -> None:
    """Status after an apply, written over a fresh read with its resourceVersion: kopf's
    body may predate the failover daemon's own writes (FailedOver, PeerHealthy, the
    traffic share after a takeover), and a stale copy must not undo them."""
    store = SiteStatusStore()
    for _attempt in range(5):
        site = store.site(namespace, name)
        if site is None:
            return
        status = dict(site.get("status") or {})
        if store.write_conditions(
                namespace, name, str(site["metadata"]["resourceVersion"]),
                merge_conditions(list(status.get("conditions") or []), [ready]),
                trafficShare=status.get("trafficShare", traffic_share),
                observedGeneration=generation):
            return
    raise kopf.TemporaryError(f"site {name} changed during 5 status writes; retrying",
                              delay=1)


@kopf.on.create(crds.GROUP, crds.VERSION, crds.SITES, backoff=RETRY_BACKOFF_S)
@kopf.on.update(crds.GROUP, crds.VERSION, crds.SITES, field="spec", backoff=RETRY_BACKOFF_S)
@kopf.on.resume(crds.GROUP, crds.VERSION, crds.SITES, backoff=RETRY_BACKOFF_S)
def reconcile(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
    try:
        spec, profile, count = reconcile_site(dict(body), logger)
        readiness = _readiness(SiteStatusStore(), spec)
    except client.ApiException as exc:
        kopf.warn(body, reason="ReconcileFailed",
                  message=f"applying the site's objects failed ({exc.status} {exc.reason}); "
                          "retrying")
        raise kopf.TemporaryError(f"apply failed: {exc.reason}", delay=2) from exc
    # Not Ready until the pods are: the repair timer and the Deployments' events say when.
    _write_applied(str(body["metadata"]["namespace"]), str(body["metadata"]["name"]),
                   ready_condition(readiness, now_text(), just_applied=True),
                   spec.traffic_share, body.get("metadata", {}).get("generation"))
    kopf.info(body, reason="Reconciled",
              message=f"site {spec.site}: {count} objects applied; media nodes "
                      f"{spec.media_nodes.for_profile(profile)}, stream workers "
                      f"{spec.stream_workers.for_profile(profile)} ({profile})")


@kopf.timer(crds.GROUP, crds.VERSION, crds.SITES, interval=REPAIR_INTERVAL_S,
            initial_delay=REPAIR_INTERVAL_S, backoff=RETRY_BACKOFF_S)
def repair(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
    reconcile_site(dict(body), logger)
    meta = body["metadata"]
    report_readiness(str(meta["namespace"]), str(meta["name"]), logger)


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
    site: Any = SiteStatusStore().site(meta["namespace"], site_name)
    if site is None or site["metadata"].get("deletionTimestamp"):
        return  # the site itself is going away
    logger.warning("%s %s of site %s was deleted; recreating it",
                   event["object"]["kind"], meta["name"], site_name)
    reconcile_site(site, logger)
    kopf.warn(site, reason="Repaired",
              message=f"{event['object']['kind']} {meta['name']} was deleted and recreated")


# The last readiness seen per Deployment: a status event re-evaluates the site only
# when it changes (most status events are heartbeats of the rollout's conditions).
_SEEN: dict[tuple[str, str], DeploymentState] = {}
_SEEN_GUARD = threading.Lock()


def _deployment_changed(event: kopf.RawEvent, logger: kopf.Logger) -> None:
    obj: dict[str, Any] = dict(event["object"])
    meta: dict[str, Any] = dict(obj["metadata"])
    key = (str(meta["namespace"]), str(meta["name"]))
    state = deployment_state(key[1], obj)
    with _SEEN_GUARD:
        if _SEEN.get(key) == state:
            return
        _SEEN[key] = state
    site_name = _owner_site(meta)
    if site_name is not None:
        report_readiness(key[0], site_name, logger)


@kopf.on.event("apps", "v1", "deployments", labels={"app.kubernetes.io/managed-by": MANAGED_BY})
def owned_deployment(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    if event["type"] == "DELETED":
        meta = event["object"]["metadata"]
        with _SEEN_GUARD:
            _SEEN.pop((str(meta["namespace"]), str(meta["name"])), None)
        _on_owned_event(event, logger)
    else:
        _deployment_changed(event, logger)


_OWNED = {"app.kubernetes.io/managed-by": MANAGED_BY}


@kopf.on.event("v1", "services", labels=_OWNED)
def owned_service(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    _on_owned_event(event, logger)


@kopf.on.event("v1", "configmaps", labels=_OWNED)
def owned_config_map(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    _on_owned_event(event, logger)


@kopf.on.event("policy", "v1", "poddisruptionbudgets", labels=_OWNED)
def owned_pdb(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    _on_owned_event(event, logger)
