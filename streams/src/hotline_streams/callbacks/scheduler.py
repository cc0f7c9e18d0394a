"""The callback scheduler: call events in, Cassandra compare-and-set, dial commands out.

One ``Scheduler`` per process; several may run per site. Each site's schedulers
change only their own site's callbacks (``ownership``: LOCAL_SERIAL, takeovers fenced
by the witness's token). Safety comes from the store's compare-and-set, not from there
being one scheduler:

    claim (LWT)  →  DialCallback to Kafka (acknowledged)  →  mark commanded (LWT)

A scheduler that dies after claiming leaves a claim that expires (``claim_ttl_s``);
the next one resumes the *same* attempt with the *same* command id, so a media node
that did get the first command drops the copy. Events this scheduler publishes have
ids derived from (callback, step, attempt): a replay after a crash repeats the same
ids, which consumers drop.

Never stalled by one callback: each callback's step in a tick is retried a few times
(``resilience``) and otherwise left for the next tick; a request is joined to its
caller's number through Cassandra (``intake``), so a restart loses neither.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentelemetry.metrics import Meter, NoOpMeter

from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    WrapUpEnded,
    WrapUpStarted,
)
from hotline_events.models.callbacks import (
    CallbackCancelled,
    CallbackConnected,
    CallbackDialling,
    CallbackFailed,
    CallbackPreviewAnswered,
    CallbackRefused,
    CallbackRequested,
    CallbackScheduled,
    DialCallback,
)
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallOffered, CallQueued
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.metrics import CallbackInterval, QueueStatistics
from hotline_events.models.routing import RoutingDecision
from hotline_events.models.sites import SiteAdoptionRequested
from hotline_events.producer import EventProducer
from hotline_streams.callbacks import destinations, logic
from hotline_streams.callbacks.adoption import FENCE_CHECK_S, Ownership
from hotline_streams.callbacks.figures import FigureSteps
from hotline_streams.callbacks.intake import Intake
from hotline_streams.callbacks.metrics import CallbackMetrics, labels
from hotline_streams.callbacks.models import (
    IN_FLIGHT,
    TERMINAL,
    AgentView,
    Callback,
    CallbackPolicy,
    QueueCapacity,
    Status,
)
from hotline_streams.callbacks.peer import PeerQueues
from hotline_streams.callbacks.preview import PreviewSteps
from hotline_streams.callbacks.resilience import describe, guarded, is_transient
from hotline_streams.callbacks.store import CallbackStore
from hotline_streams.frozen import replace

log = logging.getLogger("hotline_streams.callbacks")

EVENT_NAMESPACE = logic.EVENT_NAMESPACE
CALL_MEMORY = 50_000  # recent calls remembered for cancellations and automatic callbacks
# Test hook: right after this step (e.g. "claim", "command", "identity-stored",
# "request-stored", "created", "fenced", "copied"), exit at once (as SIGKILL would), or
# with "<step>:term" send this process SIGTERM and go on (as a pod's stop would).
CRASH_AFTER_ENV = "HOTLINE_CALLBACKS_CRASH_AFTER"
CRASH_EXIT_CODE = 3
TICK_ATTEMPTS = 3  # tries of one callback's step per tick before the next tick's turn
INBOX_DRAIN_S = 2.0  # requests not created on arrival (a failure, a restart) are retried


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _epoch(at: datetime) -> float:
    return at.timestamp()


@dataclass
class CallMemo:
    """What the scheduler remembers of a recent inbound call."""

    caller_token: str | None = None
    caller_number: str | None = None
    queue: str | None = None
    enqueued_at: float | None = None
    tier: str = "standard"
    callback_id: str | None = None  # set when the call is itself a callback's outbound call


class _Lru(OrderedDict[str, CallMemo]):
    def memo(self, call_id: str) -> CallMemo:
        found = self.get(call_id)
        if found is None:
            found = self[call_id] = CallMemo()
            if len(self) > CALL_MEMORY:
                self.popitem(last=False)
        return found


class Scheduler(PreviewSteps, FigureSteps):
    def __init__(self, store: CallbackStore, producer: EventProducer, *, site: str,
                 instance: str, policy_of: Callable[[str], CallbackPolicy],
                 clock: Callable[[], float] = time.time, refresh_s: float = 2.0,
                 meter: Meter | None = None, figures_every_s: float = 5.0,
                 datacenter: str = "dc-a", peer: PeerQueues | None = None,
                 stopping: threading.Event | None = None,
                 down_datacenters: Callable[[], Iterable[str]] = lambda: (),
                 fence_check_s: float = FENCE_CHECK_S) -> None:
        if store.site != site:
            raise ValueError(f"the store is site {store.site}'s, the scheduler site {site}'s: "
                             f"build it with CallbackStore(..., site={site!r})")
        self.store = store
        self.producer = producer
        self.site = site
        self.instance = instance
        self.policy_of = policy_of
        self.clock = clock
        self.datacenter = datacenter
        self.down_datacenters = down_datacenters
        self.stopping = stopping or threading.Event()  # set on SIGTERM: waits end at once
        self.calls = _Lru()
        self.capacity: dict[tuple[str, str], QueueCapacity] = {}
        self.surge: dict[tuple[str, str], int] = {}
        self.crash_after = os.environ.get(CRASH_AFTER_ENV)
        self.intake = Intake(store, clock, self._create, self._crash_point)
        self.ownership = Ownership(
            store, site=site, datacenter=datacenter, policy_of=policy_of, clock=clock,
            create=self.create_stranded, crash_point=self._crash_point,
            changed=self._stale_view, peer=peer, down_datacenters=down_datacenters,
            fence_check_s=fence_check_s)
        self.peer = peer
        # What went wrong in the last tick (a transient failure: readiness says so) and
        # what keeps failing the same way (a bug or bad data: logged, shown, skipped).
        self.tick_problem: str | None = None
        self.last_failure: str | None = None
        self.inbox_waiting = 0
        self._next_drain = float("-inf")
        self.dialled = 0
        # Open callbacks as last read: a cache that only saves reads. Every change is
        # still a compare-and-set, so a stale entry costs one lost CAS, never a dial.
        self.refresh_s = refresh_s
        self._view: dict[tuple[str, str], Callback] = {}
        self._view_read_at = float("-inf")
        self.metrics = CallbackMetrics(meter or NoOpMeter("hotline_streams.callbacks"),
                                       self._open_counts)
        self.last_tick_ok = float("-inf")  # monotonic time of the last completed tick
        # Callback figures for the SLA topic: counted in Cassandra, published from there.
        self.figures_every_s = figures_every_s
        self._next_figures = float("-inf")
        self._published: dict[tuple[str, str, float, int], CallbackInterval] = {}
        # Agent-first preview: who is ready (from agent and call events), the skills of
        # each queue (from its calls), and who refused which callback.
        self.agents: dict[tuple[str, str], AgentView] = {}
        self.queue_skills: dict[tuple[str, str], frozenset[str]] = {}
        self.refused: dict[str, set[str]] = {}

    # -- events in ---------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        data = event.data
        if event.source == self.producer.source:
            return  # our own publications come back on the callback topic
        handler = _HANDLERS.get(type(data))
        if handler is not None:
            handler(self, data)

    def _requested(self, data: CallbackRequested) -> None:
        # The number travels on the personal identity topic: joined in Cassandra.
        self.intake.requested(data)

    def _identified(self, data: CallerIdentified) -> None:
        memo = self.calls.memo(data.call_id)
        memo.caller_number = data.caller_number
        memo.caller_token = data.caller_token
        self.intake.identified(data)

    def _create(self, data: CallbackRequested, number: str) -> None:
        now = self.clock()
        policy = self.policy_of(data.tenant)
        window_start = _epoch(data.window_start) if data.window_start else now
        window_end = (_epoch(data.window_end) if data.window_end
                      else window_start + policy.default_window_s)
        cb = Callback(
            callback_id=data.callback_id, tenant=data.tenant, queue=data.queue,
            call_id=data.call_id, caller_token=data.caller_token, caller_number=number,
            reason=data.reason, priority=data.priority,
            original_enqueued_at=_epoch(data.original_enqueued_at), requested_at=now,
            window_start=window_start, window_end=window_end, owner_site=self.site,
            due_at=window_start)
        if self.store.get(cb.tenant, cb.callback_id) is None and not self._admitted(cb, now):
            return  # refused: recorded closed, never dialled
        self._store_new(cb)

    def _admitted(self, cb: Callback, now: float) -> bool:
        """The destination policy on a new callback (a replay of a stored one is not
        asked again: it was admitted or refused then). Admitted ones are counted for the
        rate limits before they are stored, so a crash in between over-counts, never
        under-counts."""
        policy = self.policy_of(cb.tenant)
        refused = destinations.destination_refusal(cb.caller_number, policy)
        key = destinations.number_key(cb.tenant, cb.caller_number)
        if refused is None:
            per_number, per_tenant = self.store.recent_admissions(
                cb.tenant, key, now, excluding=cb.callback_id)
            refused = destinations.rate_refusal(policy, per_number, per_tenant)
        if refused is None:
            self.store.admit(cb.tenant, cb.callback_id, key, now)
            return True
        closed = replace(cb, status=Status.CANCELLED, outcome=refused.text)
        self.store.record_refused(closed)
        self._count(cb, requested=1, cancelled=1)
        self._refused(cb, refused, attempt=0)
        return False

    def _refused(self, cb: Callback, refused: destinations.Refusal, *, attempt: int) -> None:
        """Say so to the auditor (the event) and the SRE (the log, number masked);
        ``attempt``: 0 on request, else the dial attempt that was refused."""
        self.metrics.refused.add(1, labels(cb, reason=refused.code))
        log.warning("callback %s (tenant %s, call %s, %s, number %s) %s; never dialled",
                    cb.callback_id, cb.tenant, cb.call_id, cb.reason,
                    destinations.mask(cb.caller_number), refused.text)
        self._publish(CallbackRefused(
            callback_id=cb.callback_id, call_id=cb.call_id, tenant=cb.tenant, queue=cb.queue,
            reason=refused.code, detail=refused.detail[:200], attempt=attempt),
            step="refused", attempt=attempt)

    def _store_new(self, cb: Callback) -> bool:
        """Store a new callback and say it is scheduled. Stored before (a replay after a
        crash between the two): said again, under the same event id, if it is still
        waiting for its first attempt."""
        stored = self.store.create(cb)
        if stored:
            self._view[(cb.tenant, cb.callback_id)] = cb
            self.metrics.requested.add(1, labels(cb, reason=cb.reason))
            self._count(cb, requested=1)
            log.info("callback %s for call %s (tenant %s, queue %s) stored; due from %s",
                     cb.callback_id, cb.call_id, cb.tenant, cb.queue, _at(cb.due_at))
        else:
            existing = self.store.get(cb.tenant, cb.callback_id, site=cb.owner_site)
            if existing is None or existing.status is not Status.PENDING or existing.attempt:
                return False
            cb = existing
        self._crash_point("stored")
        self._publish(CallbackScheduled(
            callback_id=cb.callback_id, call_id=cb.call_id, tenant=cb.tenant, queue=cb.queue,
            due_at=_at(logic.earliest_dial(cb, self.policy_of(cb.tenant))), attempt=1),
            step="scheduled", attempt=1)
        return stored

    def create_stranded(self, cb: Callback) -> bool:
        """A callback for a caller who was waiting at a lost site: announced as requested
        (reason site-lost, the id derived from the call), then stored and scheduled."""
        self._publish(CallbackRequested(
            callback_id=cb.callback_id, call_id=cb.call_id, tenant=cb.tenant, queue=cb.queue,
            reason="site-lost", caller_token=cb.caller_token,
            original_enqueued_at=_at(cb.original_enqueued_at), priority=cb.priority),
            step="requested", attempt=0)
        if self.store.get(cb.tenant, cb.callback_id) is None and not self._admitted(
                cb, self.clock()):
            return False
        return self._store_new(cb)

    def _offered(self, data: CallOffered) -> None:
        memo = self.calls.memo(data.call_id)
        memo.caller_token = data.caller_token

    def _queued(self, data: CallQueued) -> None:
        memo = self.calls.memo(data.call_id)
        memo.queue = data.queue
        memo.enqueued_at = _epoch(data.original_enqueued_at or data.enqueued_at)
        memo.tier = data.caller_tier
        memo.callback_id = data.callback_id
        if data.required_skills:
            self.queue_skills[(data.tenant, data.queue)] = frozenset(data.required_skills)

    def _answered(self, data: CallAnswered) -> None:
        self._agent_busy(data.tenant, data.agent_id)
        memo = self.calls.get(data.call_id)
        if memo is not None and memo.callback_id is not None:
            return  # a callback's own call
        token = memo.caller_token if memo is not None else None
        if token is None:  # not seen by this process (restarted): the durable identity
            identity = self.store.identity(data.tenant, data.call_id)
            token = identity[1] if identity is not None else None
        if token is None:
            return
        # The caller got through on their own: their pending callbacks are void.
        for cb in self._open_view():
            if logic.cancels(cb, data.tenant, token):
                self._cancel(cb, "caller-called-again")

    def _abandoned(self, data: CallAbandoned) -> None:
        memo = self.calls.get(data.call_id)
        if memo is None or data.queue is None or memo.callback_id is not None:
            return
        level = self.surge.get((data.tenant, data.queue), 0)
        if not logic.auto_callback_wanted(level, self.policy_of(data.tenant)):
            return
        if memo.caller_number is None:  # restarted since the identity came: the durable one
            identity = self.store.identity(data.tenant, data.call_id)
            if identity is not None:
                memo.caller_number, memo.caller_token = identity
        if memo.caller_token is None or memo.caller_number is None:
            log.warning("call %s abandoned at surge level %d but its caller is unknown "
                        "(withheld number?); no automatic callback", data.call_id, level)
            return
        request = CallbackRequested(
            callback_id=str(uuid.uuid5(EVENT_NAMESPACE, f"auto/{data.call_id}")),
            call_id=data.call_id, tenant=data.tenant, queue=data.queue,
            reason="abandoned-auto", caller_token=memo.caller_token,
            original_enqueued_at=_at(memo.enqueued_at or self.clock()),
            priority=logic.priority_of(memo.tier))
        self._publish(request, step="requested", attempt=0)
        self._create(request, memo.caller_number)

    def _statistics(self, data: QueueStatistics) -> None:
        key = (data.tenant, data.queue)
        self.capacity[key] = QueueCapacity(agents_ready=data.agents_ready,
                                           waiting=data.waiting, as_of=_epoch(data.as_of))
        if data.surge_level is not None:
            self.surge[key] = data.surge_level

    def _dialling(self, data: CallbackDialling) -> None:
        cb = self.store.get(data.tenant, data.callback_id)
        if cb is None or cb.attempt != data.attempt or cb.status not in IN_FLIGHT:
            return
        policy = self.policy_of(cb.tenant)
        self._change(cb, status=Status.DIALLING,
                          claim_expires=self.clock() + policy.dial_timeout_s)

    def _connected(self, data: CallbackConnected) -> None:
        cb = self.store.get(data.tenant, data.callback_id)
        if cb is None or cb.status in (Status.CONNECTED, Status.CANCELLED):
            return
        done = self._change(cb, status=Status.CONNECTED, connected_at=self.clock(),
                                 outcome="connected", claim_expires=0.0)
        if done is not None:
            at = done.connected_at or self.clock()
            self.metrics.on_connected(cb, at)
            self._count(cb, connected=1, connect_ms=round(max(at - cb.requested_at, 0.0) * 1000),
                        recovered_abandons=int(cb.reason == "abandoned-auto"))
            log.info("callback %s connected on attempt %d, %.0f s after the request",
                     cb.callback_id, data.attempt, (done.connected_at or 0.0) - cb.requested_at)
            self.store.close(done)

    def _failed(self, data: CallbackFailed) -> None:
        cb = self.store.get(data.tenant, data.callback_id)
        if cb is None or cb.attempt != data.attempt or cb.status not in IN_FLIGHT:
            return  # a replay, or an outcome already settled
        self._settle_failure(cb, data.reason)

    def _cancelled(self, data: CallbackCancelled) -> None:
        cb = self.store.get(data.tenant, data.callback_id)
        if cb is not None and cb.status is Status.PENDING:
            self._cancel(cb, data.reason, publish=False)

    # -- time --------------------------------------------------------------------------

    def tick(self) -> int:
        """Reconcile this site's standing, create what the inbox can, go on with takeovers,
        then (if this site may dial) expire, settle silent dials and dial what may be
        dialled now. Returns the number of dial commands sent."""
        self.tick_problem = None
        self._step("reading this site's fence", self.ownership.check)
        if time.monotonic() >= self._next_drain:  # the inbox is for what arrival missed
            self._next_drain = time.monotonic() + INBOX_DRAIN_S
            waiting = self._step("the callback inbox", lambda: self.intake.drain(self._each))
            self.inbox_waiting = waiting if waiting is not None else self.inbox_waiting
        if self.peer is not None:
            self._step(f"reading {self.peer.peer}'s mirrored calls", self.peer.poll)
        self._step("taking over a failed site's callbacks", self.ownership.continue_adoptions)
        sent = 0
        if self.ownership.may_dial:
            sent = self._step("reading this site's open callbacks", self._plan_and_dial) or 0
        if time.monotonic() >= self._next_figures:
            self._step("publishing the callback figures", self.publish_figures)
            self._next_figures = time.monotonic() + self.figures_every_s
        if self.tick_problem is None:
            self.last_tick_ok = time.monotonic()
        return sent

    def _plan_and_dial(self) -> int:
        now = self.clock()
        open_callbacks = [cb for cb in self._open_view() if cb.owner_site == self.site]
        decided = logic.plan(open_callbacks, self.capacity, now, self.policy_of)
        for cb in decided.expire:
            self._each(f"callback {cb.callback_id}: expiring it",
                       lambda c=cb: self._cancel(c, "expired"))  # type: ignore[misc]
        for cb in decided.resume:
            log.warning("callback %s: media node went silent while dialling attempt %d; "
                        "counting it as failed", cb.callback_id, cb.attempt)
            self._each(f"callback {cb.callback_id}: settling a silent dial",
                       lambda c=cb: self._settle_failure(c, "error"))  # type: ignore[misc]
        sent = 0
        for cb in decided.dial:
            sent += self._each(f"callback {cb.callback_id} (tenant {cb.tenant}): dialling",
                               lambda c=cb: self._dial(c, now)) or 0  # type: ignore[misc]
        for cb in open_callbacks:
            if logic.preview_timed_out(cb, now) and cb.claim_expires > now:
                log.info("callback %s: agent %s did not answer the preview in time; dialling "
                         "the customer", cb.callback_id, cb.agent_id)
                sent += self._each(
                    f"callback {cb.callback_id}: dialling after the preview",
                    lambda c=cb: self._dial_reserved(c, now)) or 0  # type: ignore[misc]
        return sent

    def _step(self, what: str, action: Callable[[], Any]) -> Any:
        """One part of a tick: a failure is recorded and the tick goes on."""
        return guarded(self.stopping, 1, lambda: what, action, self._failed_step(what))

    def _each(self, what: str, action: Callable[[], Any]) -> Any:
        """One callback's step: retried a few times, then left for the next tick."""
        return guarded(self.stopping, TICK_ATTEMPTS, lambda: what, action,
                       self._failed_step(what))

    def _failed_step(self, what: str) -> Callable[[BaseException], None]:
        def failed(exc: BaseException) -> None:
            text = f"{what}: {describe(exc, self.datacenter, self.down_datacenters())}"
            self.last_failure = text
            if is_transient(exc):
                self.tick_problem = text
            self.ownership.lost_local(exc)
        return failed

    def _dial(self, cb: Callback, now: float) -> int:
        attempt = logic.next_attempt(cb, now)
        if attempt is None:
            return 0
        policy = self.policy_of(cb.tenant)
        # Again before each dial: stored before the policy (or this version) said no,
        # or adopted from a site with another policy.
        refused = destinations.destination_refusal(cb.caller_number, policy)
        if refused is not None:
            closed = self._change(cb, status=Status.CANCELLED, outcome=refused.text,
                                  claim_id=None, claim_owner=None, claim_expires=0.0)
            if closed is not None:
                self._count(cb, cancelled=1)
                self._refused(cb, refused, attempt=attempt)
                self.store.close(closed)
            return 0
        if logic.agent_first(cb, policy):
            self._offer_preview(cb, attempt, now, policy)
            return 0
        claim_id = uuid.uuid4().hex
        claimed = self._change(cb, status=Status.CLAIMED, attempt=attempt,
                                    claim_id=claim_id, claim_owner=self.instance,
                                    claim_expires=now + policy.claim_ttl_s)
        if claimed is None:
            return 0  # another scheduler claimed it first
        return self._command(claimed, now, policy)

    def _command(self, claimed: Callback, now: float, policy: CallbackPolicy) -> int:
        """Send the dial command of a callback this scheduler holds the claim of."""
        cb, attempt, claim_id = claimed, claimed.attempt, claimed.claim_id or ""
        self._crash_point("claim")
        command = DialCallback(
            callback_id=cb.callback_id, call_id=cb.call_id, tenant=cb.tenant, queue=cb.queue,
            site=self.site, caller_number=cb.caller_number, caller_token=cb.caller_token,
            attempt=attempt, claim_id=claim_id, original_enqueued_at=_at(cb.original_enqueued_at),
            final_attempt=logic.is_final_attempt(claimed, now, policy),
            agent_id=claimed.agent_id)
        self.producer.publish_event(Event(data=command, source=self.producer.source,
                                          id=logic.command_id(cb.callback_id, attempt)))
        self.producer.flush()  # acknowledged before we say "commanded"
        self._crash_point("command")
        self._change(claimed, status=Status.COMMANDED)
        self.dialled += 1
        self.metrics.dialled.add(1, labels(cb))
        self._count(cb, dialled=1)
        log.info("callback %s: attempt %d commanded to site %s media nodes (claim %s)",
                 cb.callback_id, attempt, self.site, claim_id)
        return 1

    # -- adoption ----------------------------------------------------------------------

    def adopt(self, from_site: str, fencing_token: int) -> None:
        """Take over another site's open callbacks under the witness's token (as the
        operator's SiteAdoptionRequested does; ``ownership`` has the rules)."""
        self.ownership.requested(SiteAdoptionRequested(
            site=from_site, adopted_by=self.site, fencing_token=fencing_token,
            scope=("callbacks",)))

    def _adoption_requested(self, data: SiteAdoptionRequested) -> None:
        # Idempotent: a resumed failover's repeated command resumes or finds nothing left.
        self.ownership.requested(data)

    # -- helpers -----------------------------------------------------------------------

    def _open_counts(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for cb in list(self._view.values()):
            if cb.owner_site == self.site:
                counts[(cb.tenant, cb.queue)] = counts.get((cb.tenant, cb.queue), 0) + 1
        return counts

    def _open_view(self) -> list[Callback]:
        if time.monotonic() - self._view_read_at >= self.refresh_s:
            self._view = {(cb.tenant, cb.callback_id): cb for tenant in self.store.tenants()
                          for cb in self.store.open_callbacks(tenant)}
            self._view_read_at = time.monotonic()
        return list(self._view.values())

    def _stale_view(self) -> None:
        self._view_read_at = float("-inf")

    def _change(self, before: Callback, **changes: Any) -> Callback | None:
        after = self.store.change(before, **changes)
        key = (before.tenant, before.callback_id)
        if after is None:
            self._view_read_at = float("-inf")  # someone else changed it: read afresh
        elif after.status in TERMINAL:
            self._view.pop(key, None)
        else:
            self._view[key] = after
        return after

    def _settle_failure(self, cb: Callback, reason: str) -> None:
        after, retry = logic.after_failure(cb, reason, self.clock(), self.policy_of(cb.tenant))
        changed = self._change(
            cb, status=after.status, due_at=after.due_at, claim_id=None, claim_owner=None,
            claim_expires=0.0, outcome=after.outcome)
        if changed is None:
            return
        self.metrics.failed.add(1, labels(cb, reason=reason))
        self._count(cb, failed=1, cancelled=int(not retry))
        if retry:
            self._publish(CallbackScheduled(
                callback_id=cb.callback_id, call_id=cb.call_id, tenant=cb.tenant,
                queue=cb.queue, due_at=_at(changed.due_at), attempt=cb.attempt + 1),
                step="scheduled", attempt=cb.attempt + 1)
        else:
            self._publish(CallbackCancelled(
                callback_id=cb.callback_id, call_id=cb.call_id, tenant=cb.tenant,
                reason=after.outcome), step="cancelled", attempt=cb.attempt)  # type: ignore[arg-type]
            self.metrics.cancelled.add(1, labels(cb, reason=after.outcome or "unknown"))
            self.store.close(changed)

    def _cancel(self, cb: Callback, reason: str, *, publish: bool = True) -> None:
        changed = self._change(cb, status=Status.CANCELLED, outcome=reason)
        if changed is None:
            return
        log.info("callback %s cancelled: %s", cb.callback_id, reason)
        self.metrics.cancelled.add(1, labels(cb, reason=reason))
        self._count(cb, cancelled=1)
        if publish:
            self._publish(CallbackCancelled(callback_id=cb.callback_id, call_id=cb.call_id,
                                            tenant=cb.tenant, reason=reason),  # type: ignore[arg-type]
                          step="cancelled", attempt=cb.attempt)
        self.store.close(changed)

    def _publish(self, data: EventModel, *, step: str, attempt: int) -> None:
        subject = data.subject
        event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{subject}/{step}/{attempt}"))
        self.producer.publish_event(Event(data=data, source=self.producer.source, id=event_id))
        self.producer.flush()

    def _crash_point(self, step: str) -> None:
        if self.crash_after == step:
            log.critical("%s=%s: exiting on purpose after the %s step (test hook)",
                         CRASH_AFTER_ENV, step, step)
            os._exit(CRASH_EXIT_CODE)
        if self.crash_after == f"{step}:term":
            log.critical("%s=%s: stopping on purpose after the %s step (test hook)",
                         CRASH_AFTER_ENV, self.crash_after, step)
            self.crash_after = None  # once: the stop must not be asked again
            os.kill(os.getpid(), signal.SIGTERM)


_HANDLERS: dict[type[EventModel], Callable[[Scheduler, Any], None]] = {
    CallbackRequested: Scheduler._requested,
    CallerIdentified: Scheduler._identified,
    CallOffered: Scheduler._offered,
    CallQueued: Scheduler._queued,
    CallAnswered: Scheduler._answered,
    CallAbandoned: Scheduler._abandoned,
    QueueStatistics: Scheduler._statistics,
    CallbackDialling: Scheduler._dialling,
    CallbackConnected: Scheduler._connected,
    CallbackFailed: Scheduler._failed,
    CallbackCancelled: Scheduler._cancelled,
    SiteAdoptionRequested: Scheduler._adoption_requested,
    CallbackPreviewAnswered: Scheduler._preview_answered,
    AgentLoggedIn: Scheduler._agent_event,
    AgentLoggedOut: Scheduler._agent_event,
    AgentReady: Scheduler._agent_event,
    AgentNotReady: Scheduler._agent_event,
    WrapUpStarted: Scheduler._agent_event,
    WrapUpEnded: Scheduler._agent_event,
    RoutingDecision: Scheduler._routed,
}
