"""Pure decisions about the worker's health."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

P = TypeVar("P")  # a topic partition

# No changelog record for this long after a recovery began, with records to read: stalled.
RECOVERY_STALL_S = 10.0


def stalled_recovery(*, in_recovery: bool, started_at: float | None, now: float,
                     received_any: bool, highwaters: Mapping[P, int],
                     offsets: Mapping[P, int]) -> list[P]:
    """The changelog partitions a recovery is stuck on: it has run ``RECOVERY_STALL_S``
    without receiving a single record although these have records past its offsets."""
    if not in_recovery or started_at is None or received_any \
            or now - started_at < RECOVERY_STALL_S:
        return []
    return [tp for tp, highwater in highwaters.items()
            if highwater >= 0 and highwater > offsets.get(tp, -1)]
