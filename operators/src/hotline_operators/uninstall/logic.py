"""Pure decisions of the uninstall hook: what is left, and how to let it go."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FINALIZER = "hotline.dev/operator"  # operator.tune: settings.persistence.finalizer


@dataclass(frozen=True)
class Leftover:
    plural: str
    name: str
    finalizers: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.plural}/{self.name}"


def leftovers(plural: str, items: Iterable[Mapping[str, Any]]) -> list[Leftover]:
    return [Leftover(plural, str(i["metadata"]["name"]),
                     tuple(i["metadata"].get("finalizers") or ()))
            for i in items]


def finalizer_patch(item: Leftover, resource_version: str | None = None) -> dict[str, Any] | None:
    """A merge patch dropping the operator's finalizer (others stay: not ours to drop);
    None when the object does not carry it."""
    if FINALIZER not in item.finalizers:
        return None
    meta: dict[str, Any] = {"finalizers": [f for f in item.finalizers if f != FINALIZER]}
    if resource_version is not None:
        meta["resourceVersion"] = resource_version
    return {"metadata": meta}


def removed_line(item: Leftover, timeout_s: float) -> str:
    return (f"{item.ref}: removed finalizer {FINALIZER} myself: the operator did not "
            f"finish it within {timeout_s:g}s (operator gone or stuck)")


def stuck_line(item: Leftover) -> str:
    others = ", ".join(f for f in item.finalizers if f != FINALIZER) or "none"
    return f"{item.ref}: still present (other finalizers: {others}); left to their owners"
