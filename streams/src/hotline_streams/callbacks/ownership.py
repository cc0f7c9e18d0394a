"""Who owns a callback, and how a failed site's callbacks move without a second dial.

Pure decisions over plain data (``store`` does the I/O, ``adoption`` the steps).

Why not SERIAL. A compare-and-set at SERIAL runs Paxos over the replicas of both
datacenters: with dc-b's Cassandra gone, site-a could neither store nor claim a
callback ("Cannot achieve consistency level SERIAL").

Ownership. Every callback is owned by one site (``owner_site``) and lives in that
site's partition ``(tenant, owner_site)``. Only that site's schedulers change it, by
compare-and-set at LOCAL_SERIAL: Paxos among the replicas of the owner's datacenter.
Two sites never run Paxos on one partition from two datacenters (LOCAL_SERIAL in dc-a
and in dc-b would be two unrelated Paxos instances), so each site goes on alone when
the other datacenter or the link is gone, and schedulers of one site still race
safely. A cut link while the witness sees both sites needs nothing more: nobody
adopts, each site dials its own partition.

Adoption, fenced by the witness's token. ``SiteAdoptionRequested`` names the failed
site F, the adopter A and the witness's fencing token T (tokens never go backwards):

1. fence: ``site_fences[F]`` becomes (A, T, started) by LOCAL_SERIAL compare-and-set
   in A's datacenter; a lower token than the recorded one is refused (an older,
   stale takeover), the same one resumes an adoption cut short (``fence_decision``);
2. move: every open callback of F that A's datacenter knows is copied into A's
   partition (insert if absent: a replay copies nothing twice) as ``adopted_from`` F
   with T, *then* the original is marked ``adopted_by`` A with T by a plain write
   (not Paxos: A never runs Paxos on F's partition; F will again once it is back);
3. F's callers still waiting in its queues (mirrored call topic) get callbacks in A's
   partition, ids derived from their call ids (``stranded_callbacks``);
4. the fence is completed (compare-and-set on T).

A's schedulers dial the copies like their own callbacks.

A site that comes back. F's datacenter returns with what it had when it went dark:
originals without marks, no fence (hints and repair arrive later). So F's scheduler
dials nothing before it is *reconciled* (``standing``): it reads its fence at
EACH_QUORUM (a quorum in every datacenter, which intersects A's LOCAL_QUORUM writes):

- no fence, or one it acknowledged before: clear, it dials;
- a fence not completed: it waits (A is still copying; unmarked originals may still
  be copied);
- a completed fence it has not acknowledged: it reads its partitions at EACH_QUORUM
  (A's marks are merged in), closes every marked original as ``adopted-by-<A>``
  (archived, so a replayed request cannot create it again) and deletes it at
  LOCAL_SERIAL in its own datacenter, acknowledges T, and goes on with the rest
  (callbacks A never saw: stored at F and not yet replicated when F went dark).

No second dial when F returns: A dials callback C only from its copy, made after the
fence (1 before 2); C's original was marked after the copy, and the fence completed
after every mark (2 before 4). F dials only when reconciled: its EACH_QUORUM read of
the completed fence comes after 4, so its EACH_QUORUM read of its partition sees C's
mark, and C's original is closed before F dials anything. A scheduler that was
reconciled when F's datacenter stopped answering reconciles again before dialling
(its own datacenter's data may be the stale side). While reconciled, a scheduler
re-reads its fence every few seconds when the other datacenter answers, and stops
dialling the moment a fence it has not acknowledged shows up.

What this leaves to the witness and the operator. A site cut off from both its peer
and the witness while still running is indistinguishable, for its scheduler, from a
peer whose datacenter died: it goes on. The witness hands F's lease to A only after
F's lease expired, and F's operator must stop F's workloads when its own lease ends.
A scheduler starting while the other datacenter is unreachable cannot read its fence:
it waits (and says so on /readyz), unless its own datacenter shows it holds a
completed adoption of the peer newer than any fence on itself (``may_go_on_alone``):
the witness chose it, the peer is the fenced one.

The recovery point is the replication lag: a change F made in its last milliseconds
that never reached A's datacenter is not seen by A (a callback F dialled just before
the loss is pending in A's copy and dialled again; F's media went with it anyway).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Literal

from hotline_events.models import EventModel
from hotline_events.models.calls import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallQueued,
    CallTransferred,
)
from hotline_streams.callbacks.models import (
    IN_FLIGHT,
    TERMINAL,
    Callback,
    CallbackPolicy,
    Fence,
    Status,
    WaitingCaller,
)
from hotline_streams.frozen import replace

STRANDED_NAMESPACE = uuid.UUID("5d1c7e0a-8f3b-4b6e-9a2d-3e4f5a6b7c81")
STRANDED_REASON = "site-lost"

FenceDecision = Literal["take", "resume", "refuse"]


class Standing(StrEnum):
    CLEAR = "clear"  # no fence on this site it has not acknowledged: it dials
    FENCED_MOVING = "fenced-moving"  # adopted, the adopter is still moving: wait
    FENCED_MOVED = "fenced-moved"  # adopted and moved: close the marked originals, ack


def fence_decision(current: Fence | None, adopter: str, token: int) -> FenceDecision:
    """What an adoption command with ``token`` does to the fence recorded for the site:
    take it (no fence yet, or an older token), resume (this adopter's same takeover
    again: a replayed command, or one cut short by a crash) or refuse (a token lower
    than one already recorded, or the same token given to another site: stale)."""
    if current is None or token > current.fencing_token:
        return "take"
    if token == current.fencing_token and current.adopted_by == adopter:
        return "resume"
    return "refuse"


def standing(fence: Fence | None, acknowledged: int) -> Standing:
    """This site's standing from its fence read at EACH_QUORUM and the highest fencing
    token it acknowledged (after closing the originals adopted under it)."""
    if fence is None or fence.fencing_token <= acknowledged:
        return Standing.CLEAR
    if fence.completed_at is None:
        return Standing.FENCED_MOVING
    return Standing.FENCED_MOVED


def may_go_on_alone(site: str, local_fences: Iterable[Fence], acknowledged: int) -> bool:
    """Whether a scheduler that cannot read its fence at EACH_QUORUM (the other
    datacenter is unreachable) may dial anyway: its own datacenter shows a completed
    adoption *by* this site under a token newer than any fence *on* it. The witness
    hands tokens out in order, so the peer lost to this site after anything that
    could have fenced this site."""
    fences = list(local_fences)
    on_me = max([acknowledged, *(f.fencing_token for f in fences if f.site == site)])
    return any(f.adopted_by == site and f.site != site and f.completed_at is not None
               and f.fencing_token > on_me for f in fences)


def to_move(originals: Iterable[Callback], failed_site: str) -> list[Callback]:
    """The failed site's open callbacks not yet moved (a resumed adoption skips the
    ones already marked)."""
    return [cb for cb in originals if cb.owner_site == failed_site and cb.adopted_by is None
            and cb.status not in TERMINAL]


def adopted_copy(original: Callback, site: str, token: int) -> Callback:
    """The adopter's copy of a failed site's callback. A claim of the failed site's
    schedulers is void (they are gone): an attempt in flight there (claimed, offered,
    commanded, or already dialling over media that went with the site) is resumed here
    at once with the same attempt and command id; the failed site's agent reservation
    is dropped."""
    copy = replace(original, owner_site=site, adopted_from=original.owner_site,
                   adopted_by=None, adoption_token=token, claim_owner=None, agent_id=None)
    if original.status in IN_FLIGHT:
        copy = replace(copy, status=Status.COMMANDED, claim_expires=0.0,
                       attempt=max(original.attempt, 1))
    return copy


def to_close_on_return(own: Iterable[Callback], fence: Fence) -> list[Callback]:
    """A returning site's originals the adopter took over under ``fence`` (or an
    earlier adoption): closed here, never dialled."""
    return [cb for cb in own if cb.adopted_by is not None
            and cb.adoption_token <= fence.fencing_token]


def closed_as_adopted(original: Callback) -> Callback:
    """How a returning site archives an original the adopter took over."""
    return replace(original, status=Status.CANCELLED, outcome=f"adopted-by-{original.adopted_by}",
                   claim_id=None, claim_owner=None, claim_expires=0.0)


# -- callers waiting at a lost site ----------------------------------------------------

_ENDS = (CallAnswered, CallAbandoned, CallTransferred, CallCompleted)


def waiting_after(before: WaitingCaller | None, data: EventModel) -> WaitingCaller | None:
    """A peer's call after one of its mirrored call events: waiting from its queueing
    (a re-queue after a transfer waits again, keeping its original enqueue time) until
    it is answered, abandoned, transferred or completed. A callback's own outbound call
    queued for its agent is not a waiting caller: the callback itself is adopted."""
    if isinstance(data, CallQueued):
        if data.callback_id is not None:
            return None
        enqueued = (data.original_enqueued_at or data.enqueued_at).timestamp()
        if before is not None:
            enqueued = min(enqueued, before.enqueued_at)
        return WaitingCaller(call_id=data.call_id, tenant=data.tenant, queue=data.queue,
                             enqueued_at=enqueued, tier=data.caller_tier,
                             caller_token=before.caller_token if before else None)
    if isinstance(data, _ENDS):
        return None
    return before


def stranded_callback_id(peer: str, call_id: str) -> str:
    """The same id for the same lost caller, however often the adoption is replayed."""
    return str(uuid.uuid5(STRANDED_NAMESPACE, f"{peer}/{call_id}"))


def stranded_callbacks(
    waiting: Iterable[WaitingCaller], numbers: Mapping[str, tuple[str, str]], *, peer: str,
    site: str, token: int, lost_at: float, now: float,
    policy_of: Callable[[str], CallbackPolicy], priority_of: Callable[[str], int],
) -> tuple[list[Callback], list[WaitingCaller]]:
    """Callbacks for the callers waiting in the lost peer's queues when it was declared
    lost (``lost_at``: the fence's start), keeping their original place in line; and
    the waiting callers whose number is not known (yet: the identity topic may lag,
    or withheld), who cannot be called back."""
    made: list[Callback] = []
    unknown: list[WaitingCaller] = []
    for caller in sorted(waiting, key=lambda c: (c.enqueued_at, c.call_id)):
        if caller.enqueued_at > lost_at:
            continue  # queued after the loss: the peer is back, it serves its own callers
        number = numbers.get(caller.call_id)
        if number is None:
            unknown.append(caller)
            continue
        policy = policy_of(caller.tenant)
        made.append(Callback(
            callback_id=stranded_callback_id(peer, caller.call_id), tenant=caller.tenant,
            queue=caller.queue, call_id=caller.call_id,
            caller_token=caller.caller_token or number[1], caller_number=number[0],
            reason=STRANDED_REASON, priority=priority_of(caller.tier),
            original_enqueued_at=caller.enqueued_at, requested_at=now, window_start=now,
            window_end=now + policy.default_window_s, owner_site=site, due_at=now,
            adopted_from=peer, adoption_token=token))
    return made, unknown
