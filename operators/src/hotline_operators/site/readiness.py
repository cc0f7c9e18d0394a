"""Whether a site's pods are ready: a pure function of its Deployments' status.

A Deployment counts as ready once its controller has seen its latest spec
(observedGeneration), every wanted replica runs that spec (updatedReplicas), no old
pod is left (replicas) and every wanted replica passes its readiness probe
(readyReplicas) — what `kubectl rollout status` waits for, on readiness.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hotline_operators.site.models import SiteSpec

READY, NOT_READY, PROGRESSING = "PodsReady", "PodsNotReady", "Progressing"


@dataclass(frozen=True)
class DeploymentState:
    name: str
    wanted: int
    ready: int
    settled: bool  # the controller has rolled the latest spec out completely
    exists: bool = True

    @property
    def is_ready(self) -> bool:
        return self.exists and self.settled and self.ready >= self.wanted


@dataclass(frozen=True)
class Readiness:
    ready: bool
    message: str
    waiting: tuple[str, ...]


def deployment_state(name: str, deployment: Mapping[str, Any] | None) -> DeploymentState:
    """``deployment``: the object as the API server returns it (camelCase), or None."""
    if deployment is None:
        return DeploymentState(name, 0, 0, settled=False, exists=False)
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    replicas = spec.get("replicas")
    wanted = 1 if replicas is None else int(replicas)  # the API server's default
    observed = status.get("observedGeneration")
    generation = meta.get("generation")
    current = generation is None or (observed is not None and int(observed) >= int(generation))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    settled = current and updated >= wanted and total <= updated
    return DeploymentState(name, wanted, int(status.get("readyReplicas") or 0), settled)


def _label(site_name: str, name: str) -> str:
    prefix = f"{site_name}-"
    return name[len(prefix):] if name.startswith(prefix) else name


def site_readiness(site_name: str, expected: Sequence[str],
                   found: Mapping[str, Mapping[str, Any]],
                   hints: Sequence[str] = ()) -> Readiness:
    """``expected``: the Deployments the site owns; ``found``: those that exist, by name.

    The message reads e.g. ``media-nodes 0/1 ready, stream-workers 1/1 ready; waiting
    for: site-a-media-nodes``; ``hints`` (spec_hints) are added while not ready.
    """
    states = [deployment_state(n, found.get(n)) for n in expected]
    parts = []
    for s in states:
        what = _label(site_name, s.name)
        if not s.exists:
            parts.append(f"{what} missing")
        else:
            parts.append(f"{what} {s.ready}/{s.wanted} ready"
                         + ("" if s.settled else " (rolling out)"))
    waiting = tuple(s.name for s in states if not s.is_ready)
    message = ", ".join(parts) or "no workloads"
    if waiting:
        message += "; waiting for: " + ", ".join(waiting)
        if hints:
            message += "; " + "; ".join(hints)
    return Readiness(not waiting, message, waiting)


def spec_hints(spec: SiteSpec) -> list[str]:
    """Spec gaps that keep pods from starting (said while the site is not ready)."""
    hints = []
    if spec.media_nodes.normal or spec.media_nodes.failover:
        if spec.media_pool.flows is None:
            hints.append("spec.mediaNodes.flows is not set: media nodes have no IVR flow "
                         "to run")
        if spec.caller_token_key is None:
            hints.append("spec.callerTokenKey is not set: media nodes cannot compute "
                         "caller tokens and refuse to start")
    return hints


def ready_condition(readiness: Readiness, now: str, just_applied: bool = False
                    ) -> dict[str, str]:
    """The site's ``Ready`` condition: PodsReady, or PodsNotReady — Progressing right
    after the operator applied a spec (a rollout is expected, not a fault)."""
    reason = READY if readiness.ready else PROGRESSING if just_applied else NOT_READY
    return {"type": "Ready", "status": "True" if readiness.ready else "False",
            "reason": reason, "message": readiness.message, "lastTransitionTime": now}


def condition_changed(old: Sequence[Mapping[str, Any]], new: Mapping[str, Any]) -> bool:
    """Whether ``new`` says something the same-typed condition in ``old`` does not."""
    same = next((c for c in old if c.get("type") == new["type"]), None)
    return same is None or any(same.get(k) != new[k] for k in ("status", "reason", "message"))
