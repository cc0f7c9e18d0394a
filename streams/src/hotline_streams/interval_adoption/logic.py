"""Pure decisions of interval adoption, over the SLA stream's own pure functions."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

import msgspec

from hotline_events.envelope import Event
from hotline_events.models.metrics import SlaInterval
from hotline_events.models.sites import SiteAdoptionRequested, SiteFailback
from hotline_streams.config.models import TenantConfig
from hotline_streams.frozen import replace
from hotline_streams.interval_adoption.models import Adoption, PeerShadow, TenantEmit
from hotline_streams.ledger.logic import LEDGER_TYPES, call_id_of
from hotline_streams.service_levels.adapters import on_event, on_tick, to_event
from hotline_streams.service_levels.intervals import Emit, SlaBook

ConfigFor = Callable[[str], TenantConfig]
SCOPE = "sla-intervals"
RECENTLY_CLOSED_S = 60.0
_ADOPTED_NAMESPACE = uuid.UUID("6a0f4d1e-2b7c-4e8a-9d35-1f2e3c4b5a69")


def shadow_event(shadow: PeerShadow, event: Event, config_for: ConfigFor, grace_s: float,
                 wall_s: float) -> tuple[PeerShadow, list[TenantEmit]]:
    """Fold one of the peer's mirrored call events; what to publish (only once adopted).

    Replays are harmless: the ledger fold is idempotent, so a duplicate changes nothing.
    """
    call_id = call_id_of(event)
    if call_id is None or not isinstance(event.data, LEDGER_TYPES):
        return shadow, []
    tenant = event.data.tenant
    book = shadow.books.get(tenant) or SlaBook(tenant=tenant)
    book, after, emits, _dropped = on_event(book, shadow.entries.get(call_id), event,
                                            config_for(tenant), grace_s, wall_s=wall_s)
    entries = shadow.entries if after is None else {**shadow.entries, call_id: after}
    shadow = replace(shadow, books={**shadow.books, tenant: book}, entries=entries)
    if shadow.adoption is None:
        return shadow, []  # the peer's own stream published these while it lived
    return shadow, [TenantEmit(tenant, e) for e in emits]


def adopt(shadow: PeerShadow, command: SiteAdoptionRequested, this_site: str,
          config_for: ConfigFor, grace_s: float, now: float,
          recently_closed_s: float = RECENTLY_CLOSED_S) -> tuple[PeerShadow,
                                                                 list[TenantEmit]]:
    """Start finishing the peer's intervals: the ones that ended close (final), the
    open ones are published as they stand (provisional) and close on later ticks.

    Intervals the peer closed itself within ``recently_closed_s`` are published final
    again: a dying site may have closed one a moment before its stream could publish
    it (a repeat carries the same figures, and BI keeps one final per interval)."""
    if (command.site != shadow.peer or command.adopted_by != this_site
            or SCOPE not in command.scope or command.fencing_token in shadow.handed_back):
        return shadow, []
    if shadow.adoption is not None and shadow.adoption.fencing_token >= command.fencing_token:
        return shadow, []  # the same takeover again (a resumed failover re-publishes)
    shadow = replace(shadow, adoption=Adoption(command.fencing_token, now))
    shadow, closed = tick(shadow, config_for, grace_s, now)
    closed_keys = {(e.tenant, e.emit.interval.queue, e.emit.interval.start) for e in closed}
    standing: list[TenantEmit] = []
    for tenant, book in sorted(shadow.books.items()):
        for _key, interval in sorted(book.intervals.items()):
            if (tenant, interval.queue, interval.start) in closed_keys:
                continue
            if not interval.final_sent or interval.end >= now - recently_closed_s:
                standing.append(TenantEmit(tenant, Emit(interval, interval.final_sent)))
    return shadow, closed + standing


def tick(shadow: PeerShadow, config_for: ConfigFor, grace_s: float,
         now: float) -> tuple[PeerShadow, list[TenantEmit]]:
    """Time passed: adopted intervals that ended close (final), changed ones re-emit."""
    if shadow.adoption is None:
        return shadow, []
    books = dict(shadow.books)
    out: list[TenantEmit] = []
    for tenant, book in sorted(shadow.books.items()):
        books[tenant], emits = on_tick(book, config_for(tenant), grace_s, None, now)
        out += [TenantEmit(tenant, e) for e in emits]
    return replace(shadow, books=books), out


def hand_back(shadow: PeerShadow, failback: SiteFailback, this_site: str) -> PeerShadow:
    """The peer took its traffic back: its own stream finishes its intervals again."""
    if (failback.site != shadow.peer or failback.handed_back_by != this_site
            or shadow.adoption is None):
        return shadow
    return replace(shadow, adoption=None,
                   handed_back=shadow.handed_back | {shadow.adoption.fencing_token})


def prune(shadow: PeerShadow, keep_s: float) -> PeerShadow:
    """Drop ledger entries of calls queued more than ``keep_s`` before the newest
    event: their intervals are past the grace period, nothing can change them."""
    if not shadow.books:
        return shadow
    horizon = max(book.watermark for book in shadow.books.values()) - keep_s
    entries = {call: entry for call, entry in shadow.entries.items()
               if not entry.visits or max(v.enqueued_at for v in entry.visits) >= horizon}
    return shadow if len(entries) == len(shadow.entries) else replace(shadow, entries=entries)


def adopted_events(emits: Iterable[TenantEmit], config_for: ConfigFor, this_site: str,
                   peer: str) -> list[tuple[SlaInterval, str]]:
    """The SLA events to publish here: the peer's figures, marked ``adopted_from``,
    under ids of their own (the same state of the same interval, the same id), so a
    BI reader of both sites' topics never drops one as the other's duplicate."""
    out: list[tuple[SlaInterval, str]] = []
    latest: dict[tuple[str, str, float], TenantEmit] = {}
    for item in emits:
        latest[(item.tenant, item.emit.interval.queue, item.emit.interval.start)] = item
    for item in latest.values():
        settings = config_for(item.tenant).settings(item.emit.interval.queue)
        data, own_id = to_event(item.emit, item.tenant, this_site, settings)
        data = msgspec.structs.replace(data, adopted_from=peer)
        event_id = uuid.uuid5(_ADOPTED_NAMESPACE, f"{this_site}/{peer}/{own_id}")
        out.append((data, str(event_id)))
    return out
