"""Sites and media nodes: heartbeats, failover, failback."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from hotline_events.models._base import Count, EventModel, MediaNode, Ratio, Site

FencingToken = Annotated[int, msgspec.Meta(
    ge=1, description="Increases with every ownership change; a writer holding an older "
                      "token is stale and must stop.")]


class SiteHeartbeat(EventModel, frozen=True, kw_only=True):
    """A site's operator says it is alive and what it serves (peers watch it mirrored)."""

    TYPE: ClassVar[str] = "hotline.site.heartbeat.v1"
    SUBJECT: ClassVar[str] = "site"
    site: Site
    sequence: Annotated[int, msgspec.Meta(ge=0, description="Increases by one per beat.")]
    state: Literal["active", "degraded", "draining", "failed-over", "standby"]
    serving: Annotated[tuple[Site, ...], msgspec.Meta(
        description="The sites whose traffic this site now takes (itself included).")]
    traffic_share: Ratio
    fencing_token: FencingToken


class SiteFailover(EventModel, frozen=True, kw_only=True):
    """A site was declared failed and its traffic, callbacks and intervals moved."""

    TYPE: ClassVar[str] = "hotline.site.failover.v1"
    SUBJECT: ClassVar[str] = "site"
    site: Annotated[Site, msgspec.Meta(description="The failed site.")]
    taken_over_by: Site
    fencing_token: FencingToken
    votes: Annotated[tuple[Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")],
                           ...], msgspec.Meta(
        min_length=2, description="Who agreed (a majority of both sites and the witness).")]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    callbacks_adopted: Count = 0


class SiteFailback(EventModel, frozen=True, kw_only=True):
    """A recovered site takes its traffic back after the hold-down period."""

    TYPE: ClassVar[str] = "hotline.site.failback.v1"
    SUBJECT: ClassVar[str] = "site"
    site: Annotated[Site, msgspec.Meta(description="The site taking its traffic back.")]
    handed_back_by: Site
    fencing_token: FencingToken
    healthy_for_seconds: Annotated[float, msgspec.Meta(ge=0)]


class SiteShare(msgspec.Struct, frozen=True, kw_only=True):
    """One site's share of the carriers' traffic."""

    site: Site
    share: Ratio


class SiteTrafficSplit(EventModel, frozen=True, kw_only=True):
    """A site's edge was rewritten to carry these shares (on failover and failback).

    Published after the dispatcher destinations were written, with the fencing token
    of the lease that allowed it; a split with an older token than one already seen
    is stale.
    """

    TYPE: ClassVar[str] = "hotline.site.traffic-split.v1"
    SUBJECT: ClassVar[str] = "site"
    site: Annotated[Site, msgspec.Meta(description="The site whose edge now carries the "
                                                   "shares (the one that wrote them).")]
    shares: Annotated[tuple[SiteShare, ...], msgspec.Meta(
        min_length=1, description="Every site's share after the change; they sum to 1.")]
    reason: Literal["failover", "failback"]
    fencing_token: FencingToken
    destinations: Annotated[int, msgspec.Meta(
        ge=0, description="Dispatcher destinations the edge now has in its set.")]


class SiteAdoptionRequested(EventModel, frozen=True, kw_only=True):
    """Command: the surviving site must adopt the failed site's pending work.

    Keyed by the failed site, after its SiteFailover, on the same topic. The callbacks
    scheduler claims the failed site's pending callbacks (read from the mirrored
    `<site>.cc.callback.events`; claims are Cassandra LWTs, so one dial each), and the
    SLA stream closes or continues the failed site's open intervals. Consumers dedupe by
    event id and by (site, fencing token): a resumed failover may publish it again.
    """

    TYPE: ClassVar[str] = "hotline.site.adoption-requested.v1"
    SUBJECT: ClassVar[str] = "site"
    site: Annotated[Site, msgspec.Meta(description="The failed site whose work moves.")]
    adopted_by: Site
    fencing_token: FencingToken
    scope: Annotated[tuple[Literal["callbacks", "sla-intervals"], ...], msgspec.Meta(
        min_length=1, description="What to adopt.")]


class MediaNodeHeartbeat(EventModel, frozen=True, kw_only=True):
    """A media node's capacity and load (routing and the dispatcher use it)."""

    TYPE: ClassVar[str] = "hotline.media.heartbeat.v1"
    SUBJECT: ClassVar[str] = "media_node"
    media_node: MediaNode
    site: Site
    capacity: Annotated[int, msgspec.Meta(ge=0, description="Call legs it can carry.")]
    active_calls: Count
    workers: Count
    draining: Annotated[bool, msgspec.Meta(description="Takes no new calls (SIGTERM).")]


TYPES: tuple[type[EventModel], ...] = (SiteHeartbeat, SiteFailover, SiteFailback,
                                       SiteTrafficSplit, SiteAdoptionRequested,
                                       MediaNodeHeartbeat)
