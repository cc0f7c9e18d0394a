"""Pure callback decisions: whose turn, when a dial is allowed, what follows an outcome.

Ordering keeps the caller's place: tier (priority) first, then the original enqueue
time, never the time of the request (DESIGN.md: callbacks must not jump the line).
A callback is dialled only while its queue has a ready agent that no waiting caller
and no dial already in flight will take, so the customer who picks up is answered.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from hotline_events.models.metrics import CallbackInterval
from hotline_streams.callbacks.models import (
    IN_FLIGHT,
    AgentView,
    Callback,
    CallbackPolicy,
    DialPlan,
    QueueCapacity,
    Status,
)
from hotline_streams.frozen import replace

COMMAND_NAMESPACE = uuid.UUID("0b7d3c52-58c4-4c55-a1f1-5e3e1c6b9a40")
# Ids of the scheduler's other events: derived from what they are about, so a replay
# after a crash repeats them and consumers drop the copy.
EVENT_NAMESPACE = uuid.UUID("c0a3f1d2-1b7e-4e8a-9d55-7b0f6d1e2a31")


def order_key(cb: Callback) -> tuple[int, float, float, str]:
    return (-cb.priority, cb.original_enqueued_at, cb.requested_at, cb.callback_id)


def command_id(callback_id: str, attempt: int) -> str:
    """The dial command's event id: the same for a resumed attempt, so a media node that
    already saw it (same key → same partition → same consumer) drops the copy."""
    return str(uuid.uuid5(COMMAND_NAMESPACE, f"{callback_id}/{attempt}"))


def quiet_until(at: float, policy: CallbackPolicy) -> float | None:
    """The end of the quiet hours ``at`` falls in (epoch seconds), or None if it is not
    in quiet hours."""
    quiet = policy.quiet_hours
    if quiet is None or quiet.start == quiet.end:
        return None
    local = datetime.fromtimestamp(at, UTC).astimezone(ZoneInfo(policy.time_zone))
    now = local.timetz().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= now < quiet.end
        end_day = local.date()
    else:  # spans midnight
        inside = now >= quiet.start or now < quiet.end
        end_day = local.date() + timedelta(days=1) if now >= quiet.start else local.date()
    if not inside:
        return None
    end = datetime.combine(end_day, quiet.end, tzinfo=ZoneInfo(policy.time_zone))
    return end.timestamp()


def earliest_dial(cb: Callback, policy: CallbackPolicy) -> float:
    """When the callback may be dialled at the earliest: its due time and window start,
    pushed past quiet hours."""
    at = max(cb.due_at, cb.window_start)
    end = quiet_until(at, policy)
    return at if end is None else end


def is_expired(cb: Callback, now: float, policy: CallbackPolicy) -> bool:
    """Pending and its window closes before it may next be dialled."""
    return cb.status is Status.PENDING and (
        now >= cb.window_end or earliest_dial(cb, policy) >= cb.window_end)


def next_attempt(cb: Callback, now: float) -> int | None:
    """The attempt a claim at ``now`` would make: the next one for a pending callback;
    the same one again for a claim that expired before a media node confirmed (the
    command id repeats, so a node that got it drops the copy); None when not claimable."""
    if cb.status is Status.PENDING:
        return cb.attempt + 1
    if (cb.status in (Status.CLAIMED, Status.PREVIEWING, Status.COMMANDED)
            and cb.claim_expires <= now):
        return max(cb.attempt, 1)
    return None


def backoff(attempt: int, policy: CallbackPolicy) -> float:
    """Seconds before retrying after failed attempt number ``attempt`` (1-based)."""
    return float(min(policy.retry_backoff_s * 2.0 ** max(attempt - 1, 0),
                     policy.retry_backoff_max_s))


def plan(
    callbacks: Iterable[Callback],
    capacity: Mapping[tuple[str, str], QueueCapacity],
    now: float,
    policy_of: Callable[[str], CallbackPolicy],
) -> DialPlan:
    """Which callbacks to dial now (in order), which to expire, which stale claims to
    resume. ``capacity`` is keyed by (tenant, queue)."""
    expire: list[Callback] = []
    ready: dict[tuple[str, str], list[Callback]] = defaultdict(list)
    resume: list[Callback] = []
    in_flight: dict[tuple[str, str], int] = defaultdict(int)
    for cb in callbacks:
        policy = policy_of(cb.tenant)
        key = (cb.tenant, cb.queue)
        if cb.status in IN_FLIGHT and cb.claim_expires > now:
            in_flight[key] += 1
            continue
        if is_expired(cb, now, policy):
            expire.append(cb)
        elif cb.status is Status.DIALLING:
            resume.append(cb)  # the node went silent: settled as a failed attempt
        elif next_attempt(cb, now) is not None and earliest_dial(cb, policy) <= now:
            ready[key].append(cb)
    dial: list[Callback] = []
    for key, candidates in ready.items():
        cap = capacity.get(key, QueueCapacity())
        free = cap.agents_ready - cap.waiting - in_flight[key]
        if free > 0:
            dial.extend(sorted(candidates, key=order_key)[:free])
    return DialPlan(dial=tuple(sorted(dial, key=order_key)), expire=tuple(expire),
                    resume=tuple(resume))


def after_failure(cb: Callback, reason: str, now: float,
                  policy: CallbackPolicy) -> tuple[Callback, bool]:
    """The callback after a failed attempt, and whether it will be retried (pending with
    a backed-off due time) or is cancelled (max attempts, or the window ends first)."""
    released = replace(cb, claim_id=None, claim_owner=None, claim_expires=0.0, outcome=reason)
    if cb.attempt >= policy.max_attempts:
        return replace(released, status=Status.CANCELLED, outcome="max-attempts"), False
    retry = replace(released, status=Status.PENDING, due_at=now + backoff(cb.attempt, policy))
    if earliest_dial(retry, policy) >= cb.window_end:
        return replace(released, status=Status.CANCELLED, outcome="expired"), False
    return retry, True


def is_final_attempt(cb: Callback, now: float, policy: CallbackPolicy) -> bool:
    """Whether a failure of ``cb``'s current attempt (dialled at ``now``) would end the
    callback: the command says so and the media node reports ``will_retry`` false."""
    return not after_failure(cb, "no-answer", now, policy)[1]


def auto_callback_wanted(surge_level: int, policy: CallbackPolicy) -> bool:
    """An abandoned caller gets an automatic callback at or above the configured step."""
    step = policy.auto_callback_surge_level
    return step is not None and surge_level >= step


def cancels(cb: Callback, tenant: str, caller_token: str) -> bool:
    """The same caller got through on their own: a pending callback is void."""
    return (cb.status is Status.PENDING and cb.tenant == tenant
            and cb.caller_token == caller_token)


def priority_of(tier: str) -> int:
    return 5 if tier == "vip" else 0


# -- figures on the SLA topic ------------------------------------------------------------

FIGURES_GRACE_S = 30.0  # outcomes reported this late still land in the final record


def interval_start(at: float, seconds: int) -> float:
    """The start of the interval ``at`` falls in (intervals aligned to the epoch, like
    the SLA intervals: 15 minutes start on the quarter hour)."""
    return at - at % seconds


def callback_interval(row: Mapping[str, Any], now: float) -> CallbackInterval:
    """The SLA topic's callback figures of one counter row (see ``CallbackStore.figures``);
    final once the interval has ended and the grace for late outcomes has passed."""
    start, seconds = float(row["interval_start"]), int(row["interval_seconds"])
    dialled, connected = int(row["dialled"]), int(row["connected"])
    return CallbackInterval(
        tenant=row["tenant"], queue=row["queue"], site=row["site"],
        interval_start=datetime.fromtimestamp(start, UTC), interval_seconds=seconds,
        final=now >= start + seconds + FIGURES_GRACE_S,
        requested=int(row["requested"]), dialled=dialled, connected=connected,
        failed=int(row["failed"]), cancelled=int(row["cancelled"]),
        recovered_abandons=int(row["recovered_abandons"]),
        success_rate=min(connected / dialled, 1.0) if dialled else None,
        mean_seconds_to_connect=(round(int(row["connect_ms"]) / connected / 1000.0, 3)
                                 if connected else None))


# -- agent-first preview -------------------------------------------------------------------

Preview = Literal["dial", "release", "ignore"]


def agent_first(cb: Callback, policy: CallbackPolicy) -> bool:
    return cb.queue in policy.agent_first_queues


def agent_ready(agent: AgentView, at: float) -> AgentView:
    return agent if agent.ready_since is not None else replace(agent, ready_since=at)


def agent_busy(agent: AgentView) -> AgentView:
    return replace(agent, ready_since=None)


def pick_agent(agents: Iterable[AgentView], tenant: str, skills: frozenset[str] | None,
               reserved: Iterable[str], refused: Iterable[str] = ()) -> str | None:
    """The ready agent to reserve for a preview: qualified for the queue's skills (all
    ready agents of the tenant when the queue's skills are not known yet), not already
    reserved for another preview, not one who refused this callback; the longest idle
    first (as routing would)."""
    taken = set(reserved) | set(refused)
    fit = [a for a in agents if a.tenant == tenant and a.ready_since is not None
           and a.agent_id not in taken and (skills is None or skills <= a.skills)]
    if not fit:
        return None
    return min(fit, key=lambda a: (a.ready_since or 0.0, a.agent_id)).agent_id


def preview_answer(cb: Callback, agent_id: str, attempt: int,
                   decision: str) -> Preview:
    """What an agent's answer does: the reserved agent accepting → dial the customer now;
    refusing → release the callback (no dial attempt used); anything else (another
    agent, an old attempt, a callback no longer previewing) → ignore."""
    if cb.status is not Status.PREVIEWING or cb.agent_id != agent_id or cb.attempt != attempt:
        return "ignore"
    return "dial" if decision == "accepted" else "release"


def preview_timed_out(cb: Callback, now: float) -> bool:
    """No answer by the preview's deadline (``due_at``): the customer is dialled anyway."""
    return cb.status is Status.PREVIEWING and now >= cb.due_at
