"""kopf handlers for ContactCenterQueue: thin wiring around queues.logic.

Any change to a queue re-renders the whole namespace (a tenant's file depends on all
its queues, and an overflow target's deletion breaks the queue pointing at it). No
finalizer: deleting a queue never waits for the operator; the DELETED watch event
re-renders, and resume re-renders everything after an operator restart. The tenants
ConfigMap belongs to the namespace, not to a site (both sites' workers read it); an
uninstall deletes it (hotline_operators.uninstall) once the queues are gone.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import kopf
from kubernetes import client

from hotline_operators import crds
from hotline_operators.queues.adapters import QueueStore
from hotline_operators.queues.logic import (
    TENANTS_COMPONENT,
    TENANTS_CONFIG_MAP,
    queue_status,
    render_namespace,
    status_changed,
)
from hotline_operators.queues.models import QueueSpec
from hotline_operators.site.logic import merge_conditions, now_text

RETRY_BACKOFF_S = 2.0
# kopf runs handlers of different objects concurrently; one render at a time makes
# every write come from a listing taken after all earlier writes.
_RENDER = threading.Lock()

Logger = logging.Logger | logging.LoggerAdapter[Any]


def render(namespace: str, logger: Logger, trigger: str | None = None) -> None:
    """Re-render the namespace's tenants ConfigMap and every queue's status.

    ``trigger`` is the queue whose change caused this: it always gets an event; the
    others get one only when their state changes.
    """
    store = QueueStore()
    with _RENDER:
        bodies = store.queues(namespace)
        current = store.tenants_data(namespace)
        if current is None and not bodies:
            # Nothing to render and nothing to correct: do not create an empty ConfigMap
            # (after an uninstall deleted the queues and then the ConfigMap, writing one
            # again would leave it behind; the workers mount it optionally).
            return
        specs = [QueueSpec.from_resource(b) for b in bodies]
        rendering = render_namespace(specs, current or {})
        if current is None or rendering.data != current:
            store.write_tenants(namespace, rendering.data)
            logger.info("ConfigMap %s/%s written: tenants %s", namespace, TENANTS_CONFIG_MAP,
                        ", ".join(sorted(rendering.tenants)) or "(none)")
        now = now_text()
        for body, spec in zip(bodies, specs, strict=True):
            tenant = rendering.tenants[spec.tenant]
            old = dict(body.get("status") or {})
            new = queue_status(spec, tenant, body["metadata"].get("generation"), now)
            new["conditions"] = merge_conditions(list(old.get("conditions") or []),
                                                 new["conditions"])
            changed = status_changed(old, new)
            if changed:
                store.patch_status(namespace, spec.name, new)
            if changed or spec.name == trigger:
                _announce(body, new["conditions"], spec, tenant.key)


def _announce(body: Any, conditions: list[dict[str, str]], spec: QueueSpec,
              key: str) -> None:
    rendered = next(c for c in conditions if c["type"] == "Rendered")
    if rendered["status"] == "True":
        kopf.info(body, reason="Rendered",
                  message=f"queue {spec.queue} of tenant {spec.tenant} is in ConfigMap "
                          f"{TENANTS_CONFIG_MAP} key {key}; stream workers read it at start")
    else:
        # What failed, and what happens next: the workers keep the tenant's last good file.
        kopf.warn(body, reason=rendered["reason"], message=rendered["message"])


@kopf.on.create(crds.GROUP, crds.VERSION, crds.QUEUES, backoff=RETRY_BACKOFF_S)
@kopf.on.update(crds.GROUP, crds.VERSION, crds.QUEUES, field="spec", backoff=RETRY_BACKOFF_S)
@kopf.on.resume(crds.GROUP, crds.VERSION, crds.QUEUES, backoff=RETRY_BACKOFF_S)
def queue_changed(body: kopf.Body, logger: kopf.Logger, **_: Any) -> None:
    meta = body["metadata"]
    try:
        render(str(meta["namespace"]), logger, trigger=str(meta["name"]))
    except client.ApiException as exc:
        kopf.warn(body, reason="RenderFailed",
                  message=f"writing ConfigMap {TENANTS_CONFIG_MAP} failed ({exc.status} "
                          f"{exc.reason}); retrying in {RETRY_BACKOFF_S:g}s")
        raise kopf.TemporaryError(f"render failed: {exc.reason}", delay=RETRY_BACKOFF_S) from exc


@kopf.on.event(crds.GROUP, crds.VERSION, crds.QUEUES)
def queue_deleted(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    if event["type"] != "DELETED":
        return
    meta = event["object"]["metadata"]
    logger.info("queue %s deleted; re-rendering ConfigMap %s", meta["name"], TENANTS_CONFIG_MAP)
    render(str(meta["namespace"]), logger)


@kopf.on.event("v1", "configmaps", labels={"app.kubernetes.io/component": TENANTS_COMPONENT})
def tenants_config_map(event: kopf.RawEvent, logger: kopf.Logger, **_: Any) -> None:
    meta = event["object"]["metadata"]
    if event["type"] is None:
        # Seen in the watch's initial listing (operator start): catches queues deleted
        # while no operator ran, even the namespace's last one (no resume fires then).
        render(str(meta["namespace"]), logger)
    elif event["type"] == "DELETED":
        logger.warning("ConfigMap %s/%s was deleted; rendering it again from the queues",
                       meta["namespace"], meta["name"])
        render(str(meta["namespace"]), logger)
