"""A callback as stored in Cassandra, and the per-tenant rules that schedule it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum

HOME_REGIONS = frozenset({"DE"})  # what a tenant without allowed_countries may dial


class Status(StrEnum):
    PENDING = "pending"  # waiting for its turn (or for a retry's due time)
    CLAIMED = "claimed"  # a scheduler holds the claim and is commanding a media node
    PREVIEWING = "previewing"  # agent-first: offered to a reserved agent, customer not dialled
    COMMANDED = "commanded"  # the dial command is in Kafka; no node has confirmed yet
    DIALLING = "dialling"  # a media node confirmed it is dialling
    CONNECTED = "connected"  # terminal: the customer picked up
    CANCELLED = "cancelled"  # terminal: expired, max attempts, caller called again, …


TERMINAL = frozenset({Status.CONNECTED, Status.CANCELLED})
IN_FLIGHT = frozenset({Status.CLAIMED, Status.PREVIEWING, Status.COMMANDED, Status.DIALLING})


@dataclass(frozen=True)
class Callback:
    """One callback. Times are epoch seconds (UTC); ``version`` guards every change
    (compare-and-set through a lightweight transaction)."""

    callback_id: str
    tenant: str
    queue: str
    call_id: str
    caller_token: str
    caller_number: str
    reason: str  # caller-request | abandoned-auto | overdue-ticket
    priority: int  # 0-9; VIP callers carry a higher priority
    original_enqueued_at: float  # the caller keeps this place in line
    requested_at: float
    window_start: float
    window_end: float
    owner_site: str
    status: Status = Status.PENDING
    attempt: int = 0  # dial attempts made so far
    due_at: float = 0.0  # not before (first turn, the retry's backoff); previewing: dial by
    claim_id: str | None = None
    claim_owner: str | None = None
    claim_expires: float = 0.0
    outcome: str | None = None  # last outcome / cancel reason
    connected_at: float | None = None
    agent_id: str | None = None  # agent-first: the agent reserved for (offered) this callback
    version: int = 0
    # Adoption (see ``ownership``): on the adopter's copy, the failed site it came from;
    # on the failed site's original, the site that took it over. Both carry the
    # witness's fencing token of that takeover.
    adopted_from: str | None = None
    adopted_by: str | None = None
    adoption_token: int = 0


@dataclass(frozen=True)
class QuietHours:
    """Local wall-clock hours when no customer is dialled (start may be after end:
    21:00-08:00 spans midnight)."""

    start: time
    end: time


@dataclass(frozen=True)
class CallbackPolicy:
    time_zone: str = "UTC"
    quiet_hours: QuietHours | None = None
    max_attempts: int = 3
    retry_backoff_s: float = 120.0  # first retry; doubles each time
    retry_backoff_max_s: float = 1800.0
    default_window_s: float = 4 * 3600.0  # a callback without a window expires after this
    # Automatic callbacks for abandoned callers from this surge level on (None: never).
    auto_callback_surge_level: int | None = 3
    claim_ttl_s: float = 30.0  # a crashed claimant's claim expires after this
    dial_timeout_s: float = 90.0  # a node that said "dialling" and went silent
    figures_interval_s: int = 900  # callback figures on the SLA topic: its 15-min intervals
    # Agent-first preview in these queues: a ready agent is reserved and offered the
    # callback first; the customer is dialled when the agent accepts, or after the timeout.
    agent_first_queues: frozenset[str] = frozenset()
    preview_timeout_s: float = 20.0
    # Destination policy (``destinations``; emergency, short, premium-rate and other
    # surcharged numbers are refused whatever these say). A tenant that sets nothing may
    # be called back in Germany only, the home region of the platform's trunks: a
    # tenant elsewhere lists its countries, never "anywhere". Both lists set: a number
    # must pass both; an empty country list with prefixes: the prefixes decide.
    allowed_countries: frozenset[str] = HOME_REGIONS
    allowed_prefixes: tuple[str, ...] = ()  # E.164 prefixes, e.g. "+4930"
    # Rate limits, counted from Cassandra over the last hour (callbacks admitted).
    max_per_number_per_hour: int = 3
    max_per_tenant_per_hour: int = 1000


@dataclass(frozen=True)
class QueueCapacity:
    """What routing last said about a queue: free agents the callbacks may use."""

    agents_ready: int = 0
    waiting: int = 0
    as_of: float = 0.0


@dataclass(frozen=True)
class AgentView:
    """What the scheduler knows of an agent, from the agent and call events (agent-first
    preview picks from these)."""

    agent_id: str
    tenant: str
    skills: frozenset[str] = frozenset()
    ready_since: float | None = None  # None: not ready (not ready, on a call, wrap-up)


@dataclass(frozen=True)
class DialPlan:
    """Callbacks to dial now, in order, per queue."""

    dial: tuple[Callback, ...] = ()
    expire: tuple[Callback, ...] = ()
    resume: tuple[Callback, ...] = ()  # dials a node went silent on: settled as failed


@dataclass(frozen=True)
class Fence:
    """A failed site's callbacks were taken over by ``adopted_by`` under the witness's
    ``fencing_token``; ``completed_at`` is set once every open callback seen was moved."""

    site: str
    adopted_by: str
    fencing_token: int
    started_at: float
    completed_at: float | None = None


@dataclass(frozen=True)
class WaitingCaller:
    """A caller waiting in a peer site's queue, as its mirrored call events tell."""

    call_id: str
    tenant: str
    queue: str
    enqueued_at: float  # the original enqueue time: the caller keeps that place
    tier: str = "standard"
    caller_token: str | None = None

