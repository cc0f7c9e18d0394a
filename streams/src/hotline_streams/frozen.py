"""``replace`` for the streams' frozen dataclasses, without ``dataclasses.replace``'s cost.

Why: the pure steps fold every event into immutable books, about 14 ``replace`` calls
per event; ``dataclasses.replace`` (which re-runs ``__init__`` through keyword
arguments) was a third of the routing and SLA steps' time in
benchmarks/streams_routing.py. A frozen dataclass without ``__post_init__`` holds only
its fields, so copying its attributes and setting the changed ones is the same value.
A class with ``__post_init__`` (which validates or derives something, e.g.
``RoutingState``'s free-agent index) still goes through ``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_FIELDS: dict[type, frozenset[str] | None] = {}  # None: has __post_init__, the slow path


def _fields_of(kind: type) -> frozenset[str] | None:
    if kind not in _FIELDS:
        if not dataclasses.is_dataclass(kind):
            raise TypeError(f"replace() should be called on dataclass instances, not {kind}")
        plain = not hasattr(kind, "__post_init__") and not hasattr(kind, "__slots__")
        _FIELDS[kind] = frozenset(f.name for f in dataclasses.fields(kind)) if plain else None
    return _FIELDS[kind]


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of ``obj`` with ``changes`` (like ``dataclasses.replace``)."""
    kind = type(obj)
    names = _fields_of(kind)
    if names is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]  # a dataclass
    if not names.issuperset(changes):
        unknown = sorted(set(changes) - names)
        raise TypeError(f"{kind.__name__} has no field(s) {', '.join(unknown)}")
    copy: T = object.__new__(kind)
    attributes = copy.__dict__
    attributes.update(obj.__dict__)
    attributes.update(changes)
    return copy
