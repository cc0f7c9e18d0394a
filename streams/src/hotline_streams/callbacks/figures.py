"""The callback figures of the SLA topic: counted in Cassandra by the scheduler whose
compare-and-set made the change, published from there every few seconds. A part of
the ``Scheduler`` (a mixin: it works on the scheduler's store and producer)."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable

from hotline_events.envelope import Event, encode_body
from hotline_events.models.metrics import CallbackInterval
from hotline_events.producer import EventProducer
from hotline_streams.callbacks import logic
from hotline_streams.callbacks.models import Callback, CallbackPolicy
from hotline_streams.callbacks.store import CallbackStore

log = logging.getLogger("hotline_streams.callbacks")


class FigureSteps:
    # The scheduler's state these work with (``Scheduler`` sets them).
    store: CallbackStore
    producer: EventProducer
    site: str
    clock: Callable[[], float]
    policy_of: Callable[[str], CallbackPolicy]
    _published: dict[tuple[str, str, float, int], CallbackInterval]

    def _count(self, cb: Callback, **increments: int) -> None:
        """Count a change this scheduler won into the current interval's figures. A
        failure loses one count of the figures, never the callback's change."""
        seconds = self.policy_of(cb.tenant).figures_interval_s
        start = logic.interval_start(self.clock(), seconds)
        try:
            self.store.count(cb.tenant, self.site, cb.queue, start, seconds,
                             {k: v for k, v in increments.items() if v})
        except Exception as exc:
            log.error("callback figures: counting %s for callback %s (tenant %s, queue %s) "
                      "failed: %s; the callback goes on, the interval's figures on the SLA "
                      "topic miss this count", increments, cb.callback_id, cb.tenant, cb.queue,
                      exc)
        # Published with the next figures round (every figures_every_s), not at once: a
        # burst of dials must not pay a Cassandra read and a Kafka flush each.

    def publish_figures(self) -> int:
        """Publish this site's callback figures of the open interval and the ones just
        closed (``final`` after the grace for late outcomes) when they changed since last
        published. Returns how many records were sent."""
        now = self.clock()
        sent = 0
        for tenant, site in self.store.figure_partitions():
            if site != self.site:
                continue
            seconds = self.policy_of(tenant).figures_interval_s
            # The open interval, and any closed one whose final record may still be due.
            since = logic.interval_start(now - seconds - logic.FIGURES_GRACE_S, seconds)
            for row in self.store.figures(tenant, site, since):
                figures = logic.callback_interval(row, now)
                key = (tenant, figures.queue, float(row["interval_start"]),
                       figures.interval_seconds)
                if self._published.get(key) == figures:
                    continue
                digest = hashlib.sha256(encode_body(figures)).hexdigest()[:16]
                self.producer.publish_event(Event(
                    data=figures, source=self.producer.source,
                    id=str(uuid.uuid5(logic.EVENT_NAMESPACE, f"figures/{key}/{site}/{digest}"))))
                self._published[key] = figures
                sent += 1
            for old in [k for k in self._published if k[0] == tenant and k[2] < since]:
                del self._published[old]
        if sent:
            self.producer.flush()
        return sent
