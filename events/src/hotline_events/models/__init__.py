"""Every event type, by CloudEvents type name."""

from __future__ import annotations

from hotline_events.models import agents, callbacks, calls, identity, metrics, routing, sites
from hotline_events.models._base import NAME_PATTERN, EventModel

ALL_TYPES: tuple[type[EventModel], ...] = (
    *calls.TYPES, *identity.TYPES, *callbacks.TYPES, *agents.TYPES, *routing.TYPES,
    *metrics.TYPES, *sites.TYPES,
)


def _registry() -> dict[str, type[EventModel]]:
    registry: dict[str, type[EventModel]] = {}
    for cls in ALL_TYPES:
        if cls.TYPE in registry:
            raise RuntimeError(f"event type {cls.TYPE} is defined twice: "
                               f"{registry[cls.TYPE].__name__} and {cls.__name__}")
        registry[cls.TYPE] = cls
    return registry


REGISTRY: dict[str, type[EventModel]] = _registry()

__all__ = ["ALL_TYPES", "NAME_PATTERN", "REGISTRY", "EventModel"]
