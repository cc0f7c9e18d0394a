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
                                       MediaNodeHeartbeat)
