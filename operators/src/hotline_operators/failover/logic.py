"""Whether to fail over or back: plain functions over what the operator observed.

A failover needs a majority of {this site, the peer, the witness}. The peer never
votes for its own death, so this site needs the witness: it suspects the peer from
its own evidence (heartbeats stopped AND direct probes fail), then asks the witness,
which grants a lease with a fencing token only if it has lost the peer too and no
one else holds it. A cut link between two live sites therefore never fails over
(the witness still sees the peer), and an isolated site never takes over (it cannot
reach the witness).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from hotline_operators.failover.models import (
    Action,
    Decision,
    PeerView,
    Timings,
    WitnessAnswer,
)

# A heartbeat may be this far ahead of our clock (two sites' clocks, NTP-synced).
MAX_CLOCK_SKEW_S = 5.0


def heartbeat_refusal(*, peer: str, site: str, source: str, at: float, now: float,
                      max_skew_s: float = MAX_CLOCK_SKEW_S) -> str | None:
    """Why a heartbeat read on ``peer``'s mirrored topic does not count (None: it
    counts). Only the peer's operator speaks for it, and a heartbeat dated ahead of
    now would keep a dead peer "alive" until that date, blocking every failover."""
    if site != peer:
        return f"it is about {site!r}, not {peer!r}"
    if not source.startswith(f"//hotline/{peer}/operator/"):
        return f"its source {source!r} is not {peer}'s operator"
    if at > now + max_skew_s:
        return (f"it is dated {at - now:.0f} s ahead of this site's clock (more than "
                f"{max_skew_s:.0f} s of skew)")
    return None


def peer_suspected(view: PeerView, timings: Timings) -> bool:
    heard_or_watched = (view.last_heartbeat if view.last_heartbeat is not None
                        else view.watched_since)
    silent = heard_or_watched is None or view.now - heard_or_watched > timings.peer_timeout_s
    return silent and view.probe_ok is False


def peer_healthy(view: PeerView, timings: Timings) -> bool:
    fresh = (view.last_heartbeat is not None
             and view.now - view.last_heartbeat <= timings.peer_timeout_s)
    return fresh and view.probe_ok is not False


def decide(view: PeerView, timings: Timings, *, failed_over: bool,
           witness: WitnessAnswer | None = None) -> Decision:
    """The next step for one peer; ``witness`` is the answer to an ASK_WITNESS."""
    if failed_over:
        if not peer_healthy(view, timings) or view.healthy_since is None:
            return Decision(Action.NONE, "peer still down: keep its traffic")
        healthy_for = view.now - view.healthy_since
        if healthy_for < timings.hold_down_s:
            return Decision(Action.NONE, f"peer healthy for {healthy_for:.0f}s of the "
                                         f"{timings.hold_down_s:.0f}s hold-down")
        return Decision(Action.FAIL_BACK, f"peer healthy for {healthy_for:.0f}s")
    if not peer_suspected(view, timings):
        return Decision(Action.NONE, "peer heartbeats or probes are answering")
    if witness is None:
        return Decision(Action.ASK_WITNESS, "peer silent and its probes fail")
    if witness is WitnessAnswer.GRANTED:
        return Decision(Action.FAIL_OVER, "the witness confirms the peer is down and "
                                          "granted the lease")
    if witness is WitnessAnswer.REFUSED:
        return Decision(Action.NONE, "the witness still sees the peer or another site "
                                     "holds the lease: only the link is cut")
    return Decision(Action.NONE, "the witness is unreachable: this site may be the "
                                 "isolated one, so it takes nothing over")


# A takeover's steps after the lease is recorded in status, in order. Each is
# idempotent, and status.failovers[peer].done lists those finished, so a restarted
# operator does only the rest.
FAILOVER_STEPS = ("split-written", "scaled", "adoption-requested", "announced")
# A failback's, recorded in status.failbacks[peer] the same way. The witness lease is
# released last, so no one may take the peer over while it is being handed back; the
# takeover's records (failedPeers, failovers, failbacks) go once all are done.
FAILBACK_STEPS = ("split-written", "scaled", "announced", "released")


def remaining_steps(done: list[str],
                    steps: tuple[str, ...] = FAILOVER_STEPS) -> tuple[str, ...]:
    return tuple(step for step in steps if step not in done)


def serving_failed(failed_peers: list[str], failing_back: Collection[str]) -> list[str]:
    """The failed peers whose traffic this site still carries: a peer being handed
    back stays in failedPeers until its failback is done, but its traffic and the
    normal profile are already its own."""
    return [peer for peer in failed_peers if peer not in failing_back]


def event_id(kind: str, failed_site: str, token: int, decided_at: str) -> str:
    """The same id for the same step of the same takeover: a resumed failover that
    re-publishes is a duplicate consumers drop (they dedupe by ce_id). ``decided_at``
    tells apart two takeovers under one token (a witness that re-grants a lease never
    released)."""
    name = f"hotline:{kind}:{failed_site}:{token}:{decided_at}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))
