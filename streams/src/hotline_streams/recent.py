"""A bounded memory of recent ids (event ids, finished calls), pure and cheap.

Why: the books remember recent ids to skip replays. As a tuple of the last N ids, each
event copied N ids and each lookup compared up to N strings (N = 2,048 finished calls:
a tenth of the routing step in benchmarks/streams_routing.py). Here the ids are kept in
generations of at most ``GENERATION`` (frozensets, newest last): remembering one copies
the newest generation and the short outer tuple, and a lookup is one hash probe per
generation. A memory of capacity ``cap`` holds the last ``cap - GENERATION`` to ``cap``
ids (the oldest generation goes whole).
"""

from __future__ import annotations

Recent = tuple[frozenset[str], ...]

GENERATION = 64


def remember(recent: Recent, item: str, cap: int) -> Recent:
    """``recent`` with ``item`` (the same memory when it already holds it)."""
    if holds(recent, item):
        return recent
    if recent and len(recent[-1]) < GENERATION:
        return (*recent[:-1], recent[-1] | {item})
    kept = max(1, cap // GENERATION) - 1  # whole generations before the new one
    return (*(recent[-kept:] if kept else ()), frozenset((item,)))


def holds(recent: Recent, item: str) -> bool:
    return any(item in generation for generation in recent)
