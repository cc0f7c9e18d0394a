"""The adoption loop: shadow the peer, adopt on command, tick, publish."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hotline_events.catalog import Catalog, mirrored
from hotline_events.envelope import Event
from hotline_events.models.calls import CallQueued
from hotline_events.models.metrics import SlaInterval
from hotline_events.models.sites import SiteAdoptionRequested, SiteFailback
from hotline_events.producer import EventProducer
from hotline_streams.follower import TopicFollower
from hotline_streams.interval_adoption.adapters import publish
from hotline_streams.interval_adoption.logic import (
    ConfigFor,
    adopt,
    adopted_events,
    hand_back,
    prune,
    shadow_event,
    tick,
)
from hotline_streams.interval_adoption.models import PeerShadow, TenantEmit

log = logging.getLogger("hotline_streams.interval_adoption")

BACKOFF_MAX_S = 10.0


@dataclass(frozen=True)
class AdoptionSettings:
    site: str  # this site (the adopter)
    peer: str
    grace_s: float = 3600.0  # as the SLA stream's (HOTLINE_SLA_GRACE_S)
    # How far back the shadow is rebuilt at start: the open intervals' calls (two
    # 15-minute intervals) and the failover commands of that time.
    lookback_s: float = 1800.0
    tick_s: float = 1.0


class Adopter:
    def __init__(self, settings: AdoptionSettings, bootstrap: str, catalog: Catalog,
                 producer: EventProducer, config_for: ConfigFor) -> None:
        self.settings = settings
        self.config_for = config_for
        self.producer = producer
        since = time.time() - settings.lookback_s
        calls = catalog.topic_for_type(CallQueued.TYPE).name
        self.calls = TopicFollower(bootstrap, mirrored(settings.peer, calls), since,
                                   "interval-adoption")
        self.commands = TopicFollower(
            bootstrap, catalog.topic_for_type(SiteAdoptionRequested.TYPE).name, since,
            "interval-adoption")
        self.shadow = PeerShadow(peer=settings.peer)
        self.published = 0

    def run(self, stopped: threading.Event, on_ready: Callable[[], None] = lambda: None) -> None:
        # The shadow first catches up with the peer's calls, so an adoption replayed
        # from the command topic at start finds the intervals it is about.
        while not stopped.is_set() and not self.calls.caught_up():
            self._on_call(self.calls.poll(0.5))
        on_ready()
        log.info("shadowing %s's intervals (%d tenants, %d calls) from %s", self.settings.peer,
                 len(self.shadow.books), len(self.shadow.entries), self.calls.topic)
        next_tick = 0.0
        failures = 0
        while not stopped.is_set():
            try:
                self._on_command(self.commands.poll(0.05))
                self._on_call(self.calls.poll(0.2))
                if time.monotonic() >= next_tick:
                    self.shadow, emits = tick(self.shadow, self.config_for,
                                              self.settings.grace_s, time.time())
                    self._publish(emits, stopped)
                    self.shadow = prune(self.shadow, 2 * self.settings.grace_s)
                    next_tick = time.monotonic() + self.settings.tick_s
                failures = 0
            except Exception as exc:  # Kafka away: keep the shadow, back off, go on
                failures += 1
                delay = min(BACKOFF_MAX_S, 0.5 * 2 ** (failures - 1))
                log.error("shadowing %s failed: %s; retrying in %.1f s", self.settings.peer,
                          exc, delay)
                stopped.wait(delay)

    def _on_call(self, polled: tuple[Event, float] | None) -> None:
        if polled is None:
            return
        event, wall_s = polled
        tenants = len(self.shadow.books)
        self.shadow, emits = shadow_event(self.shadow, event, self.config_for,
                                          self.settings.grace_s, wall_s)
        if len(self.shadow.books) > tenants:
            log.info("shadowing tenant %s of %s (first event %s of call %s)",
                     event.data.tenant if hasattr(event.data, "tenant") else "?",
                     self.settings.peer, event.type, event.subject)
        self._publish(emits, None)

    def _on_command(self, polled: tuple[Event, float] | None) -> None:
        if polled is None:
            return
        data = polled[0].data
        if isinstance(data, SiteAdoptionRequested):
            before = self.shadow.adoption
            self.shadow, emits = adopt(self.shadow, data, self.settings.site, self.config_for,
                                       self.settings.grace_s, time.time())
            if self.shadow.adoption is not before:
                log.warning("adopting %s's open SLA intervals (lease %d): %d to publish now, "
                            "the rest as they close", self.settings.peer, data.fencing_token,
                            len(emits))
            self._publish(emits, None)
        elif isinstance(data, SiteFailback):
            before = self.shadow.adoption
            self.shadow = hand_back(self.shadow, data, self.settings.site)
            if before is not None and self.shadow.adoption is None:
                log.warning("%s took its traffic back: its own stream finishes its intervals "
                            "again (lease %d ends here)", self.settings.peer,
                            before.fencing_token)

    def _publish(self, emits: list[TenantEmit], stopped: threading.Event | None) -> None:
        if not emits:
            return
        events: list[tuple[SlaInterval, str]] = adopted_events(
            emits, self.config_for, self.settings.site, self.settings.peer)
        delay = 0.5
        while True:
            try:
                publish(self.producer, events, time.time())
                self.published += len(events)
                return
            except Exception as exc:  # Kafka down: the same events again, never dropped
                log.error("publishing %d adopted SLA interval(s) of %s failed: %s; retrying "
                          "in %.1f s", len(events), self.settings.peer, exc, delay)
                if stopped is not None and stopped.wait(delay):
                    return
                if stopped is None:
                    time.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    def close(self) -> None:
        self.calls.close()
        self.commands.close()
        self.producer.flush(10)
