"""Interval adoption's decisions: shadow the peer, finish its open intervals once adopted.

Queue ``billing`` of tenant ``acme`` at site-b, 15-minute intervals from 09:00:
c1 answered after 10 s (within T = 20 s), c2 abandoned after 30 s, c3 answered after
25 s — all queued in the 09:00 interval: offered 3, SL 1/3. site-b dies at 09:12; site-a
adopts at 09:12:30.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from hotline_events.catalog import default_catalog
from hotline_events.envelope import Event, format_time
from hotline_events.models import EventModel
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallQueued
from hotline_events.models.sites import SiteAdoptionRequested, SiteFailback
from hotline_streams.config.loader import parse
from hotline_streams.config.models import TenantConfig
from hotline_streams.interval_adoption.logic import (
    adopt,
    adopted_events,
    hand_back,
    prune,
    shadow_event,
    tick,
)
from hotline_streams.interval_adoption.models import PeerShadow, TenantEmit
from hotline_streams.service_levels.adapters import to_event

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
CONFIG = parse({"tenant": "acme", "queues": {"billing": {"required_skills": ["billing"]}}})
GRACE = 3600.0


def config_for(tenant: str) -> TenantConfig:
    return CONFIG if tenant == "acme" else TenantConfig(tenant=tenant)


def at(minutes: int, seconds: int = 0) -> datetime:
    return DAY + timedelta(minutes=minutes, seconds=seconds)


def ev(data: EventModel, when: datetime) -> Event:
    return Event(data=data, source="//hotline/site-b/media-node/mn-1", time=when)


def peer_log() -> list[Event]:
    out = []
    for call, queued, wait, answered in (("c1", at(1), 10.0, True), ("c2", at(3), 30.0, False),
                                         ("c3", at(10), 25.0, True)):
        out.append(ev(CallQueued(call_id=call, tenant="acme", queue="billing",
                                 enqueued_at=queued), queued))
        done = queued + timedelta(seconds=wait)
        out.append(ev(CallAnswered(call_id=call, tenant="acme", queue="billing",
                                   agent_id="a1", wait_seconds=wait) if answered else
                      CallAbandoned(call_id=call, tenant="acme", stage="queue",
                                    queue="billing", wait_seconds=wait), done))
    return out


def shadowed() -> PeerShadow:
    shadow = PeerShadow(peer="site-b")
    for event in peer_log():
        shadow, emits = shadow_event(shadow, event, config_for, GRACE, event.time.timestamp())
        assert emits == [], "nothing is published before the adoption"
    return shadow


def command(token: int = 7, adopted_by: str = "site-a", site: str = "site-b",
            scope: tuple[str, ...] = ("callbacks", "sla-intervals")) -> SiteAdoptionRequested:
    return SiteAdoptionRequested(site=site, adopted_by=adopted_by, fencing_token=token,
                                 scope=scope)  # type: ignore[arg-type]


def published(emits: list[TenantEmit]) -> list[tuple[bool, int, int, int, str | None, str]]:
    return [(d.final, d.offered, d.answered, d.abandoned, d.adopted_from, d.site)
            for d, _id in adopted_events(emits, config_for, "site-a", "site-b")]


def test_the_open_interval_is_published_at_adoption_and_final_when_it_closes() -> None:
    shadow, emits = adopt(shadowed(), command(), "site-a", config_for, GRACE,
                          at(12, 30).timestamp())
    assert shadow.adoption is not None and shadow.adoption.fencing_token == 7
    assert published(emits) == [(False, 3, 2, 1, "site-b", "site-a")]
    # Before 09:15 nothing closes; at 09:15 it is final, once.
    shadow, emits = tick(shadow, config_for, GRACE, at(14, 59).timestamp())
    assert emits == []
    shadow, emits = tick(shadow, config_for, GRACE, at(15, 1).timestamp())
    assert published(emits) == [(True, 3, 2, 1, "site-b", "site-a")]
    shadow, emits = tick(shadow, config_for, GRACE, at(16).timestamp())
    assert emits == []


def test_figures_are_the_sla_streams_own() -> None:
    _shadow, emits = adopt(shadowed(), command(), "site-a", config_for, GRACE,
                          at(12, 30).timestamp())
    [(data, _id)] = adopted_events(emits, config_for, "site-a", "site-b")
    own, _ = to_event(emits[0].emit, "acme", "site-a", CONFIG.settings("billing"))
    assert msgspec.structs.replace(own, adopted_from="site-b") == data
    assert data.service_level is not None and abs(data.service_level - 1 / 3) < 1e-9


def test_a_late_mirrored_event_after_adoption_is_published() -> None:
    shadow, _ = adopt(shadowed(), command(), "site-a", config_for, GRACE,
                      at(12, 30).timestamp())
    late = ev(CallAnswered(call_id="c4", tenant="acme", queue="billing", agent_id="a1",
                           wait_seconds=5), at(11, 55))
    shadow, emits = shadow_event(shadow, late, config_for, GRACE, at(12, 31).timestamp())
    assert published(emits) == [(False, 4, 3, 1, "site-b", "site-a")]


def test_commands_for_others_or_without_intervals_adopt_nothing() -> None:
    for other in (command(adopted_by="site-c"), command(site="site-c"),
                  command(scope=("callbacks",))):
        shadow, emits = adopt(shadowed(), other, "site-a", config_for, GRACE,
                              at(12, 30).timestamp())
        assert (shadow.adoption, emits) == (None, [])
        assert tick(shadow, config_for, GRACE, at(16).timestamp())[1] == []


def test_a_repeated_command_publishes_nothing_new_and_ids_are_stable() -> None:
    first, emits = adopt(shadowed(), command(), "site-a", config_for, GRACE,
                         at(12, 30).timestamp())
    again, repeat = adopt(first, command(), "site-a", config_for, GRACE,
                          at(12, 40).timestamp())
    assert (again, repeat) == (first, [])
    # A restart rebuilds the same shadow and publishes the same state under the same id.
    _, rebuilt = adopt(shadowed(), command(), "site-a", config_for, GRACE,
                       at(12, 31).timestamp())
    ids = [i for _d, i in adopted_events(emits, config_for, "site-a", "site-b")]
    assert ids == [i for _d, i in adopted_events(rebuilt, config_for, "site-a", "site-b")]
    # …and never the id of the peer's own record of the same state.
    _, own_id = to_event(emits[0].emit, "acme", "site-b", CONFIG.settings("billing"))
    assert own_id not in ids


def test_after_failback_the_peer_finishes_its_own_intervals() -> None:
    shadow, _ = adopt(shadowed(), command(), "site-a", config_for, GRACE,
                      at(12, 30).timestamp())
    back = hand_back(shadow, SiteFailback(site="site-b", handed_back_by="site-a",
                                          fencing_token=7, healthy_for_seconds=130), "site-a")
    assert back.adoption is None
    assert tick(back, config_for, GRACE, at(16).timestamp())[1] == []
    # The same command replayed (a restart re-reads the failover topic) adopts nothing.
    replayed, emits = adopt(back, command(), "site-a", config_for, GRACE,
                            at(16).timestamp())
    assert (replayed.adoption, emits) == (None, [])
    # A later takeover (new lease) adopts again.
    assert adopt(back, command(token=8), "site-a", config_for, GRACE,
                 at(16).timestamp())[0].adoption is not None


def test_prune_forgets_calls_past_the_grace_period() -> None:
    shadow = shadowed()
    assert set(shadow.entries) == {"c1", "c2", "c3"}
    assert set(prune(shadow, keep_s=5 * 60).entries) == {"c3"}
    assert prune(shadow, keep_s=GRACE) is shadow


def test_adopted_records_keep_a_key_of_their_own() -> None:
    _shadow, emits = adopt(shadowed(), command(), "site-a", config_for, GRACE,
                          at(12, 30).timestamp())
    [(adopted, _)] = adopted_events(emits, config_for, "site-a", "site-b")
    own = msgspec.structs.replace(adopted, adopted_from=None)
    catalog = default_catalog()
    assert catalog.key_for(own) == b"acme/billing/" + format_time(DAY).encode()
    assert catalog.key_for(adopted) == catalog.key_for(own) + b"/site-b"


def test_an_interval_the_peer_closed_just_before_it_died_is_published_final_again() -> None:
    # A 09:15 event closed the 09:00 interval in the peer's stream; it died at 09:15:10.
    shadow = shadowed()
    later = ev(CallQueued(call_id="c5", tenant="acme", queue="billing", enqueued_at=at(15, 5)),
               at(15, 5))
    shadow, _ = shadow_event(shadow, later, config_for, GRACE, at(15, 5).timestamp())
    _, emits = adopt(shadow, command(), "site-a", config_for, GRACE, at(15, 30).timestamp())
    assert published(emits) == [(True, 3, 2, 1, "site-b", "site-a")]
    # Long after, only what is still open would be (nothing answered in 09:15 yet).
    _, emits = adopt(shadow, command(), "site-a", config_for, GRACE, at(20).timestamp())
    assert published(emits) == []
