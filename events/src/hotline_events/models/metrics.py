"""Latest-state metrics: queue statistics, wait estimates, SLA intervals.

These go to compacted topics: a newer record with the same key replaces the older,
so a late correction of an interval or a fresher estimate wins.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from hotline_events.models._base import (
    CallId,
    Count,
    EventModel,
    Queue,
    Ratio,
    Seconds,
    Site,
    Tenant,
    Timestamp,
)


class QueueStatistics(EventModel, frozen=True, kw_only=True):
    """A queue's live state (for the wallboard and routing dashboards)."""

    TYPE: ClassVar[str] = "hotline.queue.statistics.v1"
    SUBJECT: ClassVar[str] = "queue"
    tenant: Tenant
    queue: Queue
    site: Site
    as_of: Timestamp
    waiting: Count
    longest_wait_seconds: Annotated[float, msgspec.Meta(
        ge=0, description="Wait of the oldest contact now waiting.")]
    agents_staffed: Count
    agents_ready: Count
    agents_busy: Count
    agents_not_ready: Count
    estimated_wait_seconds: Seconds
    # Added in 0.2 (optional, so 0.1 readers and writers are unaffected).
    agents_wrap_up: Count | None = None
    arrivals_per_minute: Annotated[Annotated[float, msgspec.Meta(ge=0)] | None, msgspec.Meta(
        description="Contacts queued per minute over the last 15 minutes.")] = None
    aht_seconds: Annotated[Seconds | None, msgspec.Meta(
        description="Recent average handle time (talk + hold + wrap-up), weighted to the "
                    "latest completed contacts.")] = None
    agents_needed: Annotated[Count | None, msgspec.Meta(
        description="Erlang C: agents needed now to meet the queue's service-level target "
                    "at the observed arrival rate and AHT.")] = None
    surge_level: Annotated[Annotated[int, msgspec.Meta(ge=0, le=4)] | None, msgspec.Meta(
        description="0 when the agents available cover `agents_needed`; 1-4 as the "
                    "shortfall deepens (bring backup staff online in turn).")] = None


class WaitEstimate(EventModel, frozen=True, kw_only=True):
    """The current estimate for one waiting contact (latest per call)."""

    TYPE: ClassVar[str] = "hotline.queue.wait-estimate.v1"
    SUBJECT: ClassVar[str] = "call_id"
    call_id: CallId
    tenant: Tenant
    queue: Queue
    as_of: Timestamp
    position: Annotated[int, msgspec.Meta(ge=1)]
    estimated_wait_seconds: Seconds
    method: Annotated[str, msgspec.Meta(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        description="How it was estimated, e.g. `agents-free-times`, `ewma`.")]


class QueueInterval(EventModel, frozen=True, kw_only=True):
    """What every per-queue interval record on the SLA topic starts with (not an event
    type itself: no ``TYPE``)."""

    tenant: Tenant
    queue: Queue
    site: Site
    interval_start: Timestamp
    interval_seconds: Annotated[int, msgspec.Meta(ge=1, le=86400)]
    final: bool


class SlaInterval(QueueInterval, frozen=True, kw_only=True):
    """Service-level metrics of one queue for one interval (15 min for history and BI).

    Re-emitted while the interval is open and once more with ``final`` when it
    closes (late events correct it under the same key).
    """

    TYPE: ClassVar[str] = "hotline.metrics.sla-interval.v1"
    SUBJECT: ClassVar[str] = "queue"
    offered: Annotated[Count, msgspec.Meta(description="Contacts that entered the queue.")]
    answered: Count
    answered_within_threshold: Count
    abandoned: Annotated[Count, msgspec.Meta(description="Abandons, short ones included.")]
    abandoned_within_threshold: Count
    short_abandons: Annotated[Count, msgspec.Meta(
        description="Hung up within the short-abandon threshold; out of service level.")]
    callback_requests: Annotated[Count, msgspec.Meta(
        description="Left the queue for a callback (not abandons).")] = 0
    service_level: Annotated[Ratio | None, msgspec.Meta(
        description="Per `abandon_treatment`; null when its denominator is 0.")] = None
    asa_seconds: Annotated[Seconds | None, msgspec.Meta(
        description="Mean wait of answered contacts.")] = None
    abandon_rate: Annotated[Ratio | None, msgspec.Meta(
        description="(abandoned - short abandons) / (offered - short abandons).")] = None
    aht_seconds: Annotated[Seconds | None, msgspec.Meta(
        description="Mean talk + hold + wrap-up of contacts completed in the interval.")] = None
    occupancy: Annotated[Ratio | None, msgspec.Meta(
        description="Handle time ÷ staffed time of the queue's agents.")] = None
    threshold_seconds: Annotated[float, msgspec.Meta(
        gt=0, description="T of service level, e.g. 20.")]
    target: Annotated[Ratio, msgspec.Meta(description="Target service level, e.g. 0.8.")]
    short_abandon_threshold_seconds: Seconds = 5.0
    abandon_treatment: Annotated[
        Literal["ignored", "against", "within-threshold-met"],
        msgspec.Meta(description="How abandons enter service level (see the BI guide).")]
    adopted_from: Annotated[Site | None, msgspec.Meta(
        description="Set when `site` finished this interval for a failed site: the site "
                    "whose calls it counts (its own stream left it open).")] = None


class CallbackInterval(QueueInterval, frozen=True, kw_only=True):
    """Callback figures of one queue for one interval, from one site's callback scheduler.

    On the SLA topic next to ``SlaInterval`` (same interval boundaries), keyed with the
    site as well, so it never replaces the queue's service-level record under
    compaction and each site's figures stand on their own (a site that adopted the
    other's callbacks reports what it dialled). Re-emitted while the interval is open
    and once more with ``final``. Counts are of what happened in the interval: a
    callback requested in one interval may connect in a later one.
    """

    TYPE: ClassVar[str] = "hotline.metrics.callback-interval.v1"
    SUBJECT: ClassVar[str] = "queue"
    requested: Annotated[Count, msgspec.Meta(
        description="Callbacks stored (caller requests and automatic ones).")]
    dialled: Annotated[Count, msgspec.Meta(description="Dial attempts commanded.")]
    connected: Annotated[Count, msgspec.Meta(description="Customers who picked up.")]
    failed: Annotated[Count, msgspec.Meta(
        description="Dial attempts that failed (no answer, busy, …).")]
    cancelled: Annotated[Count, msgspec.Meta(
        description="Callbacks ended without a connection (expired, max attempts, the "
                    "caller got through on their own, cancelled by the caller).")]
    recovered_abandons: Annotated[Count, msgspec.Meta(
        description="Automatic callbacks after an abandon that connected.")]
    success_rate: Annotated[Ratio | None, msgspec.Meta(
        description="connected / dialled; null when nothing was dialled.")] = None
    mean_seconds_to_connect: Annotated[Seconds | None, msgspec.Meta(
        description="Mean time from the request to the customer picking up, of the "
                    "callbacks connected in the interval; null when none connected.")] = None


TYPES: tuple[type[EventModel], ...] = (QueueStatistics, WaitEstimate, SlaInterval,
                                       CallbackInterval)
