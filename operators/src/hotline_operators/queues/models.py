"""A ContactCenterQueue's spec and the outcome of rendering a namespace's queues, as plain data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServiceLevel:
    """The CRD's serviceLevel (the API server fills in its defaults)."""

    threshold_s: int = 20
    target_percent: int = 80
    short_abandon_s: int = 5
    abandon_treatment: str = "against"


@dataclass(frozen=True)
class Overflow:
    after_s: int
    skills: tuple[str, ...]
    to_queue: str | None = None


@dataclass(frozen=True)
class QueueSpec:
    name: str  # the object's name (status and events go here)
    tenant: str
    queue: str
    skills: tuple[str, ...]
    service_level: ServiceLevel | None = None  # None: the streams' defaults
    ring_timeout_s: int | None = None
    overflow: tuple[Overflow, ...] = ()

    @classmethod
    def from_resource(cls, body: Mapping[str, Any]) -> QueueSpec:
        spec = body["spec"]
        sl = spec.get("serviceLevel")
        return cls(
            name=body["metadata"]["name"], tenant=spec["tenant"], queue=spec["queue"],
            skills=tuple(spec["skills"]),
            service_level=None if sl is None else ServiceLevel(
                threshold_s=int(sl.get("thresholdSeconds", 20)),
                target_percent=int(sl.get("targetPercent", 80)),
                short_abandon_s=int(sl.get("shortAbandonSeconds", 5)),
                abandon_treatment=str(sl.get("abandonTreatment", "against"))),
            ring_timeout_s=(int(spec["ringTimeoutSeconds"]) if "ringTimeoutSeconds" in spec
                            else None),
            overflow=tuple(Overflow(after_s=int(o["afterSeconds"]), skills=tuple(o["skills"]),
                                    to_queue=o.get("toQueue"))
                           for o in spec.get("overflow") or []),
        )


@dataclass(frozen=True)
class Problem:
    """Something the CRD schema cannot check; ``field`` is the path in the object's spec."""

    object_name: str
    field: str
    reason: str

    def text(self) -> str:
        return f"{self.object_name}: spec.{self.field}: {self.reason}"


@dataclass(frozen=True)
class TenantRendering:
    tenant: str
    key: str  # the ConfigMap key, <tenant>.yaml
    queues: tuple[str, ...]  # object names of this tenant's queues
    problems: tuple[Problem, ...] = ()
    kept_last_good: bool = False  # invalid, and an earlier good version stays in place

    @property
    def valid(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Rendering:
    """What the tenants ConfigMap should hold, and how each tenant fared."""

    data: dict[str, str] = field(default_factory=dict)
    tenants: dict[str, TenantRendering] = field(default_factory=dict)
