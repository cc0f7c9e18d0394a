"""This site's standing (may it dial?) and its takeovers of a failed peer: the steps of
``ownership``'s design, on the store. Called by the scheduler: ``check`` and
``continue_adoptions`` every tick, ``requested`` on the operator's command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from hotline_events.models.sites import SiteAdoptionRequested
from hotline_streams.callbacks import logic, ownership
from hotline_streams.callbacks.models import Callback, CallbackPolicy, Fence
from hotline_streams.callbacks.ownership import Standing
from hotline_streams.callbacks.peer import PeerQueues
from hotline_streams.callbacks.resilience import describe, is_transient, local_datacenter_lost
from hotline_streams.callbacks.store import CallbackStore

log = logging.getLogger("hotline_streams.callbacks")

FENCE_CHECK_S = 5.0  # a reconciled scheduler re-reads its fence this often
UNRECONCILED_RETRY_S = 1.0


class Ownership:
    def __init__(self, store: CallbackStore, *, site: str, datacenter: str,
                 policy_of: Callable[[str], CallbackPolicy], clock: Callable[[], float],
                 create: Callable[[Callback], bool], crash_point: Callable[[str], None],
                 changed: Callable[[], None], peer: PeerQueues | None = None,
                 down_datacenters: Callable[[], Iterable[str]] = lambda: (),
                 fence_check_s: float = FENCE_CHECK_S) -> None:
        self.store = store
        self.site = site
        self.datacenter = datacenter
        self.policy_of = policy_of
        self.clock = clock
        self.create = create  # stores a callback (and announces it); False if it existed
        self.crash_point = crash_point
        self.changed = changed  # the scheduler's view of open callbacks is stale
        self.peer = peer
        self.down_datacenters = down_datacenters
        self.fence_check_s = fence_check_s
        self.reconciled = False  # nothing is dialled before the first reconciliation
        self.acknowledged = 0
        self.not_dialling: str | None = "not reconciled yet: the fence is read at start"
        self.warning: str | None = None
        self.refused = 0  # stale adoption commands
        self._next_check = float("-inf")
        self._offered: set[str] = set()  # stranded callers whose callback exists
        self._unknown_logged: set[str] = set()

    @property
    def may_dial(self) -> bool:
        return self.reconciled

    # -- this site's standing ----------------------------------------------------------

    def lost_local(self, exc: BaseException) -> None:
        """This site's own datacenter stopped serving: what it shows when it is back may
        be the stale side of a takeover, so reconcile again before dialling."""
        if not local_datacenter_lost(exc):
            return
        if self.reconciled:
            log.error("site %s: its own Cassandra datacenter %s is not serving (%s); "
                      "dialling stops until the fence is read again when it is back",
                      self.site, self.datacenter, describe(exc, self.datacenter,
                                                           self.down_datacenters()))
        self.reconciled = False
        self.not_dialling = (f"{self.datacenter} (this site's datacenter) stopped serving: "
                             f"{describe(exc, self.datacenter, self.down_datacenters())}")
        self._next_check = float("-inf")

    def check(self) -> None:
        """Read the fence on this site (at EACH_QUORUM) when due, and act on it."""
        mono = time.monotonic()
        if mono < self._next_check:
            return
        self._next_check = mono + (self.fence_check_s if self.reconciled
                                   else UNRECONCILED_RETRY_S)
        local_fences = self.store.fences()  # LOCAL_QUORUM: raises if our datacenter is out
        self.acknowledged = self.store.acknowledged(self.site)
        try:
            fence = self.store.fence(self.site, everywhere=True)
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._unverifiable(exc, local_fences)
            return
        self.warning = None
        state = ownership.standing(fence, self.acknowledged)
        if state is Standing.CLEAR:
            if not self.reconciled:
                log.info("site %s reconciled: no takeover of it since token %d; dialling",
                         self.site, self.acknowledged)
            self.reconciled, self.not_dialling = True, None
            return
        assert fence is not None
        if self.reconciled:
            log.error("site %s was taken over by %s (fencing token %d) while this scheduler "
                      "ran: dialling stops now", self.site, fence.adopted_by,
                      fence.fencing_token)
        self.reconciled = False
        if state is Standing.FENCED_MOVING:
            self.not_dialling = (f"{fence.adopted_by} is taking over {self.site}'s callbacks "
                                 f"(fencing token {fence.fencing_token}) and has not "
                                 "finished: waiting for it")
            log.warning("site %s: %s", self.site, self.not_dialling)
            return
        self._come_back(fence)

    def _unverifiable(self, exc: BaseException, local_fences: list[Fence]) -> None:
        text = describe(exc, self.datacenter, self.down_datacenters())
        if self.reconciled:
            self.warning = (f"the fence on {self.site} cannot be read at EACH_QUORUM ({text}); "
                            f"{self.site} goes on alone at LOCAL_SERIAL")
            return
        if ownership.may_go_on_alone(self.site, local_fences, self.acknowledged):
            held = max((f for f in local_fences if f.adopted_by == self.site),
                       key=lambda f: f.fencing_token)
            self.reconciled, self.not_dialling = True, None
            self.warning = (f"the fence on {self.site} cannot be read at EACH_QUORUM ({text}); "
                            f"going on alone: this site holds the latest takeover (of "
                            f"{held.site}, fencing token {held.fencing_token})")
            log.warning("site %s: %s", self.site, self.warning)
            return
        reason = (f"cannot verify that {self.site} was not taken over while away: its fence "
                  f"cannot be read at EACH_QUORUM ({text}); waiting for the other datacenter")
        if reason != self.not_dialling:
            log.error("site %s: not dialling: %s", self.site, reason)
        self.not_dialling = reason

    def _come_back(self, fence: Fence) -> None:
        """Close the originals the adopter took over, acknowledge its token, go on."""
        closed = kept = 0
        for tenant in self.store.tenants(self.site):
            own = self.store.open_callbacks(tenant, self.site, everywhere=True)
            adopted = ownership.to_close_on_return(own, fence)
            for cb in adopted:
                self.store.close_adopted(cb, ownership.closed_as_adopted(cb))
            closed += len(adopted)
            kept += len(own) - len(adopted)
        self.crash_point("returned")
        self.store.acknowledge(self.site, fence.fencing_token, self.clock())
        self.acknowledged = fence.fencing_token
        self.reconciled, self.not_dialling = True, None
        self.changed()
        log.warning("site %s came back after %s took over its callbacks (fencing token %d): "
                    "%d original(s) closed as adopted (never dialled here), %d kept (stored "
                    "here, never seen by %s); dialling again", self.site, fence.adopted_by,
                    fence.fencing_token, closed, kept, fence.adopted_by)

    # -- takeovers of a failed peer ----------------------------------------------------

    def requested(self, command: SiteAdoptionRequested) -> None:
        """Record the takeover (the fence); the moves follow at once and, should they be
        cut short, on the next ticks (an incomplete fence held here is continued)."""
        if (command.adopted_by != self.site or command.site == self.site
                or "callbacks" not in command.scope):
            return
        for _round in range(3):
            current = self.store.fence(command.site, serial=True)
            decision = ownership.fence_decision(current, self.site, command.fencing_token)
            if decision == "refuse":
                assert current is not None
                self.refused += 1
                log.warning("adoption of %s's callbacks by %s with fencing token %d refused: "
                            "the fence holds token %d (%s) already; a stale command, ignored",
                            command.site, self.site, command.fencing_token,
                            current.fencing_token, current.adopted_by)
                return
            if decision == "resume" or self.store.take_fence(
                    command.site, self.site, command.fencing_token, self.clock(), current):
                break
        else:
            raise RuntimeError(f"the fence on {command.site} kept changing under the adoption "
                               f"with token {command.fencing_token}")
        self.crash_point("fenced")
        log.warning("taking over %s's callbacks (fencing token %d, %s)", command.site,
                    command.fencing_token, decision)
        try:
            self.continue_adoptions()
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.error("taking over %s's callbacks (token %d) was cut short: %s; the next "
                      "ticks go on with it (the fence is recorded)", command.site,
                      command.fencing_token, describe(exc, self.datacenter,
                                                      self.down_datacenters()))

    def continue_adoptions(self) -> None:
        """Move what is left of every takeover held by this site, offer callbacks to the
        lost peer's waiting callers, and complete the fences."""
        for fence in self.store.fences():
            if fence.adopted_by != self.site or fence.site == self.site:
                continue
            moved = self._move(fence) if fence.completed_at is None else 0
            offered = self._stranded(fence)
            if fence.completed_at is not None:
                continue
            if self.peer is not None and self.peer.peer == fence.site and not self.peer.caught_up():
                log.info("taking over %s (token %d): waiting to read its mirrored calls up to "
                         "now before completing", fence.site, fence.fencing_token)
                continue
            if self.store.complete_fence(fence.site, fence.fencing_token, self.clock()):
                log.warning("took over %s's callbacks (fencing token %d): %d open callback(s) "
                            "moved here, %d waiting caller(s) offered a callback", fence.site,
                            fence.fencing_token, moved, offered)

    def _move(self, fence: Fence) -> int:
        moved = 0
        for tenant in self.store.tenants(fence.site):
            for original in ownership.to_move(self.store.open_callbacks(tenant, fence.site),
                                              fence.site):
                copy = ownership.adopted_copy(original, self.site, fence.fencing_token)
                self.store.create(copy)  # False: copied before a crash or replay
                self.crash_point("copied")
                self.store.mark_adopted(original, self.site, fence.fencing_token)
                moved += 1
                log.info("callback %s (tenant %s) of %s taken over as %s, %s, attempt %d",
                         original.callback_id, tenant, fence.site, self.site,
                         copy.status.value, copy.attempt)
        if moved:
            self.changed()
        return moved

    def _stranded(self, fence: Fence) -> int:
        peer = self.peer
        if peer is None or peer.peer != fence.site or not peer.caught_up():
            return 0
        made, unknown = ownership.stranded_callbacks(
            peer.waiting.values(), peer.numbers, peer=fence.site, site=self.site,
            token=fence.fencing_token, lost_at=fence.started_at, now=self.clock(),
            policy_of=self.policy_of, priority_of=logic.priority_of)
        offered = 0
        for cb in made:
            if cb.callback_id in self._offered:
                continue
            created = self.create(cb)  # False: offered before (a replayed takeover)
            self._offered.add(cb.callback_id)
            if not created:
                continue
            offered += 1
            log.info("caller of call %s was waiting in %s's queue %s (tenant %s) since %s "
                     "when it was lost: callback %s offered, keeping that place", cb.call_id,
                     fence.site, cb.queue, cb.tenant,
                     datetime.fromtimestamp(cb.original_enqueued_at, UTC).isoformat(),
                     cb.callback_id)
        for caller in unknown:
            if caller.call_id not in self._unknown_logged:
                self._unknown_logged.add(caller.call_id)
                log.warning("caller of call %s was waiting in %s's queue %s (tenant %s) when "
                            "it was lost, but their number is not known (withheld, or not "
                            "mirrored yet): no callback unless it arrives", caller.call_id,
                            fence.site, caller.queue, caller.tenant)
        if offered:
            self.changed()
        return offered
