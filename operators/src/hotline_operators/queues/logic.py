"""ContactCenterQueue objects → one ``<tenant>.yaml`` per tenant, in the format the
stream workers load (``hotline_streams.config.loader``; the unit tests round-trip the
output through that loader, so the format is proven there, not restated here).

All queues of a namespace go into one ConfigMap, ``hotline-tenants``: queues name a
tenant, not a site, and every consumer in the namespace (each site's stream workers,
the interval adoption consumers judging a peer's intervals) must read the same
settings. A tenant whose queues do not fit together (an overflow to a queue that does
not exist, …) keeps the version already in the ConfigMap: the workers never receive
a file they would refuse at start.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from hotline_events.models import NAME_PATTERN
from hotline_operators.queues.models import Problem, QueueSpec, Rendering, TenantRendering

TENANTS_CONFIG_MAP = "hotline-tenants"
TENANTS_COMPONENT = "tenants-config"
TENANTS_DIR = "/etc/hotline-tenants"  # where the workers mount it (HOTLINE_TENANTS_DIR)
MANAGED_BY = "hotline-operator"
HEADER = ("# Rendered by hotline-operator from the namespace's ContactCenterQueue objects;\n"
          "# edit those (kubectl edit ccqueue …), not this file: it is overwritten.\n")

# The streams' names (tenants, queues, skills): stricter than the CRD's skill items.
_SLUG = re.compile(NAME_PATTERN)  # the contract's names (tenant, queue, skill)


def tenant_key(tenant: str) -> str:
    return f"{tenant}.yaml"


def target_text(queue: QueueSpec) -> str:
    """What `kubectl get ccqueue` shows in its Target column, e.g. ``80% in 20s``."""
    sl = queue.service_level
    percent, threshold = (80, 20) if sl is None else (sl.target_percent, sl.threshold_s)
    return f"{percent}% in {threshold}s"


def _queue_document(q: QueueSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"required_skills": list(q.skills)}
    if q.service_level is not None:
        sl = q.service_level
        doc["service_level"] = {
            "threshold_s": sl.threshold_s,
            "target": sl.target_percent / 100,
            "short_abandon_s": sl.short_abandon_s,
            "abandon_treatment": sl.abandon_treatment,
        }
    if q.ring_timeout_s is not None:
        doc["ring_timeout_s"] = q.ring_timeout_s
    if q.overflow:
        rules: list[dict[str, Any]] = []
        for o in q.overflow:
            rule: dict[str, Any] = {"after_s": o.after_s, "required_skills": list(o.skills)}
            if o.to_queue is not None:
                rule["to_queue"] = o.to_queue
            rules.append(rule)
        doc["overflow"] = rules
    return doc


def tenant_document(tenant: str, queues: Iterable[QueueSpec]) -> dict[str, Any]:
    """The loader's mapping for one tenant (queues sorted by name: stable output)."""
    return {"tenant": tenant,
            "queues": {q.queue: _queue_document(q) for q in sorted(queues, key=lambda q: q.queue)}}


def render_tenant(tenant: str, queues: Iterable[QueueSpec]) -> str:
    return HEADER + yaml.safe_dump(tenant_document(tenant, queues), sort_keys=False)


def problems(queues: Iterable[QueueSpec]) -> list[Problem]:
    """What the CRD schema cannot see: rules across queues of a tenant, and names the
    streams refuse. Mirrors the loader's checks (the unit tests hold both to it)."""
    qs = list(queues)
    found: list[Problem] = []
    by_queue: dict[tuple[str, str], list[QueueSpec]] = {}
    for q in qs:
        by_queue.setdefault((q.tenant, q.queue), []).append(q)
    for (_, name), same in by_queue.items():
        if len(same) > 1:
            names = ", ".join(sorted(s.name for s in same))
            found += [Problem(s.name, "queue", f"queue {name!r} of tenant {s.tenant!r} is "
                                               f"defined by several objects ({names})")
                      for s in same]
    for q in qs:
        if not _SLUG.match(q.tenant):
            found.append(Problem(q.name, "tenant", "at most 63 characters"))
        if not _SLUG.match(q.queue):
            found.append(Problem(q.name, "queue", "at most 63 characters"))
        for i, skill in enumerate(q.skills):
            if not _SLUG.match(skill):
                found.append(Problem(q.name, f"skills[{i}]", _bad_skill(skill)))
        previous = 0
        for i, o in enumerate(q.overflow):
            if o.after_s <= previous:
                found.append(Problem(q.name, f"overflow[{i}].afterSeconds",
                                     f"must be greater than the previous rule's ({previous})"))
            previous = max(previous, o.after_s)
            for j, skill in enumerate(o.skills):
                if not _SLUG.match(skill):
                    found.append(Problem(q.name, f"overflow[{i}].skills[{j}]", _bad_skill(skill)))
            if o.to_queue is None:
                continue
            if o.to_queue == q.queue:
                found.append(Problem(q.name, f"overflow[{i}].toQueue",
                                     "overflows to its own queue"))
            elif (q.tenant, o.to_queue) not in by_queue:
                found.append(Problem(q.name, f"overflow[{i}].toQueue",
                                     f"queue {o.to_queue!r} does not exist in tenant {q.tenant!r}"))
    return found


def _bad_skill(skill: str) -> str:
    return (f"{skill!r} is not a skill name (lower-case letters, digits, '.', '_', '-'; "
            "at most 63)")


def render_namespace(queues: Iterable[QueueSpec], current: Mapping[str, str]) -> Rendering:
    """The ConfigMap's data for these queues, given what it holds now (``current``).

    A valid tenant gets its fresh file; an invalid one keeps its current file (its last
    good version) or stays absent; a tenant without queues is dropped.
    """
    by_tenant: dict[str, list[QueueSpec]] = {}
    for q in queues:
        by_tenant.setdefault(q.tenant, []).append(q)
    data: dict[str, str] = {}
    tenants: dict[str, TenantRendering] = {}
    for tenant in sorted(by_tenant):
        members = by_tenant[tenant]
        key = tenant_key(tenant)
        found = tuple(problems(members))
        kept = False
        if not found:
            data[key] = render_tenant(tenant, members)
        elif key in current:
            data[key] = current[key]
            kept = True
        tenants[tenant] = TenantRendering(
            tenant=tenant, key=key, queues=tuple(sorted(q.name for q in members)),
            problems=found, kept_last_good=kept)
    return Rendering(data=data, tenants=tenants)


def rendered_condition(queue: QueueSpec, tenant: TenantRendering, now: str) -> dict[str, str]:
    """The queue's ``Rendered`` condition: why its settings are (not) what the workers read."""
    where = f"ConfigMap {TENANTS_CONFIG_MAP} key {tenant.key}"
    if tenant.valid:
        return _condition(True, "Rendered", f"in {where} with {len(tenant.queues)} "
                                            f"queue(s) of tenant {tenant.tenant}", now)
    held = (f"tenant {tenant.tenant} keeps its last good config in {where}" if tenant.kept_last_good
            else f"tenant {tenant.tenant} has no config yet (nothing written to {where})")
    own = [p for p in tenant.problems if p.object_name == queue.name]
    if own:
        return _condition(False, "Invalid", "; ".join(p.text() for p in own) + f"; {held}", now)
    others = "; ".join(p.text() for p in tenant.problems)
    return _condition(False, "TenantInvalid", f"{others}; {held}", now)


def _condition(status: bool, reason: str, message: str, now: str) -> dict[str, str]:
    return {"type": "Rendered", "status": "True" if status else "False", "reason": reason,
            "message": message, "lastTransitionTime": now}


def queue_status(queue: QueueSpec, tenant: TenantRendering, generation: int | None,
                 now: str) -> dict[str, Any]:
    """The status fields this capability owns (conditions are merged by the caller)."""
    return {"targetText": target_text(queue), "configMap": TENANTS_CONFIG_MAP,
            "configKey": tenant.key, "observedGeneration": generation,
            "conditions": [rendered_condition(queue, tenant, now)]}


def status_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether ``new`` says anything ``old`` does not (ignoring transition times)."""
    def essence(status: Mapping[str, Any]) -> Any:
        conditions = {c.get("type"): (c.get("status"), c.get("reason"), c.get("message"))
                      for c in status.get("conditions") or []}
        return ({k: status.get(k) for k in ("targetText", "configMap", "configKey",
                                             "observedGeneration")},
                conditions.get("Rendered"))
    return bool(essence(old) != essence(new))


def tenants_checksum(data: Mapping[str, str] | None) -> str:
    """A digest of the tenants ConfigMap's data for the workers' pod template: the stream
    workers load their tenant files at start only, so a changed file must roll them."""
    canonical = json.dumps(dict(sorted((data or {}).items())), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def config_map(namespace: str, data: Mapping[str, str]) -> dict[str, Any]:
    """The namespace's tenants ConfigMap. Not owned by a site: deleting a site must not
    take the queue settings of the other site's workers with it."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": TENANTS_CONFIG_MAP, "namespace": namespace, "labels": {
                "app.kubernetes.io/name": f"hotline-{TENANTS_COMPONENT}",
                "app.kubernetes.io/component": TENANTS_COMPONENT,
                "app.kubernetes.io/part-of": "hotline",
                "app.kubernetes.io/managed-by": MANAGED_BY}},
            "data": dict(sorted(data.items()))}
