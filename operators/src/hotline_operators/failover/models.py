"""Plain data for failover decisions."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Timings:
    heartbeat_interval_s: float = 1.0
    peer_timeout_s: float = 5.0  # no heartbeat and no probe answer for this long: suspect
    hold_down_s: float = 120.0  # peer healthy this long before failback

    def __post_init__(self) -> None:
        if self.peer_timeout_s <= 2 * self.heartbeat_interval_s:
            raise ValueError("peer_timeout_s must exceed two heartbeat intervals")


@dataclass(frozen=True)
class PeerView:
    """What this site's operator knows about one peer, at ``now``."""

    now: float
    last_heartbeat: float | None  # newest heartbeat read from the mirrored topic
    probe_ok: bool | None  # the latest direct probe (None: not probed yet)
    healthy_since: float | None  # start of the current unbroken healthy stretch
    # When this operator began watching the peer. A peer never heard from counts as
    # silent only a full peer timeout after that: a site created just before its peer,
    # or an operator just restarted, has not yet had the chance to hear it.
    watched_since: float | None = None


class WitnessAnswer(StrEnum):
    GRANTED = "granted"  # the witness also lost the peer and gave us the lease
    REFUSED = "refused"  # the witness still sees the peer, or someone else holds it
    UNREACHABLE = "unreachable"  # we may be the isolated side: do nothing


class Action(StrEnum):
    NONE = "none"
    ASK_WITNESS = "ask-witness"
    FAIL_OVER = "fail-over"
    FAIL_BACK = "fail-back"


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
