"""Live figures for scraping: the latest published queue statistics, wait estimates
and sliding-window service levels of this worker's tenants, as OpenTelemetry gauges
(read by a Prometheus reader, served on the worker's ``/metrics``).

This is a read cache of what the streams already published from their tables, not
state: a restarted worker fills it again on its first ticks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider

from hotline_events.models.metrics import QueueStatistics, WaitEstimate
from hotline_streams.service_levels.models import IntervalFigures


@dataclass
class LiveFigures:
    stats: dict[tuple[str, str], QueueStatistics] = field(default_factory=dict)
    estimates: dict[str, dict[str, WaitEstimate]] = field(default_factory=dict)  # tenant → call
    windows: dict[tuple[str, str, int], IntervalFigures] = field(default_factory=dict)

    def note(self, out: Iterable[tuple[Any, str, Any]]) -> None:
        """Remember the statistics and estimates among a routing step's outputs."""
        fresh: dict[str, dict[str, WaitEstimate]] = {}
        had_stats: set[str] = set()
        for data, _, _ in out:
            if isinstance(data, QueueStatistics):
                self.stats[(data.tenant, data.queue)] = data
                had_stats.add(data.tenant)
            elif isinstance(data, WaitEstimate):
                fresh.setdefault(data.tenant, {})[data.call_id] = data
        for tenant in had_stats:  # a stats round replaces the tenant's estimates
            self.estimates[tenant] = fresh.get(tenant, {})

    def note_windows(self, tenant: str, figures: Iterable[tuple[int, IntervalFigures]]) -> None:
        for minutes, fig in figures:
            self.windows[(tenant, fig.queue, minutes)] = fig


live = LiveFigures()

_STAT_GAUGES = {  # name → (QueueStatistics field, unit, description)
    "hotline.queue.waiting": ("waiting", "{contact}", "Contacts waiting now."),
    "hotline.queue.longest_wait": ("longest_wait_seconds", "s", "Wait of the oldest contact."),
    "hotline.queue.agents_staffed": ("agents_staffed", "{agent}", "Logged-in agents."),
    "hotline.queue.agents_ready": ("agents_ready", "{agent}", "Ready agents."),
    "hotline.queue.agents_busy": ("agents_busy", "{agent}", "Agents on or ringing a call."),
    "hotline.queue.estimated_wait": ("estimated_wait_seconds", "s",
                                     "Estimated wait of a caller arriving now."),
    "hotline.queue.arrivals_per_minute": ("arrivals_per_minute", "{contact}/min",
                                          "Contacts queued per minute (last 15 min)."),
    "hotline.queue.aht": ("aht_seconds", "s", "Recent average handle time."),
    "hotline.queue.agents_needed": ("agents_needed", "{agent}",
                                    "Erlang C agents needed for the target now."),
    "hotline.queue.surge_level": ("surge_level", "1", "0 (covered) to 4 (deepest surge)."),
}
_WINDOW_GAUGES = {  # name → (IntervalFigures field, unit, description)
    "hotline.sla.offered": ("offered", "{contact}", "Contacts that entered the queue."),
    "hotline.sla.answered": ("answered", "{contact}", "Answered contacts."),
    "hotline.sla.answered_within_threshold": ("answered_within_t", "{contact}",
                                              "Answered within T."),
    "hotline.sla.abandoned": ("abandoned", "{contact}", "Abandons (short ones included)."),
    "hotline.sla.short_abandons": ("short_abandons", "{contact}", "Short abandons."),
    "hotline.sla.service_level": ("service_level", "1", "Service level per the queue's "
                                                       "abandon treatment."),
    "hotline.sla.asa": ("asa_s", "s", "Mean wait of answered contacts."),
    "hotline.sla.abandon_rate": ("abandon_rate", "1", "Abandons (not short) ÷ (offered - "
                                                     "short abandons)."),
    "hotline.sla.aht": ("aht_s", "s", "Talk + hold + wrap-up."),
    "hotline.sla.occupancy": ("occupancy", "1", "Handle time ÷ staffed time."),
}


def _stat_observations(name: str) -> Any:
    attr = _STAT_GAUGES[name][0]

    def observe(options: CallbackOptions) -> Iterator[Observation]:
        for (tenant, queue), stats in list(live.stats.items()):
            value = getattr(stats, attr)
            if value is not None:
                yield Observation(value, {"tenant": tenant, "queue": queue})
    return observe


def _window_observations(name: str) -> Any:
    attr = _WINDOW_GAUGES[name][0]

    def observe(options: CallbackOptions) -> Iterator[Observation]:
        for (tenant, queue, minutes), fig in list(live.windows.items()):
            value = getattr(fig, attr)
            if value is not None:
                yield Observation(value, {"tenant": tenant, "queue": queue,
                                          "window": f"{minutes}m"})
    return observe


def metrics_provider() -> MeterProvider:
    """A meter provider whose gauges read ``live``; its reader feeds ``prometheus_client``'s
    default registry (rendered by the ``/metrics`` page)."""
    provider = MeterProvider(metric_readers=[PrometheusMetricReader()])
    meter = provider.get_meter("hotline_streams")
    for name, (_, unit, description) in _STAT_GAUGES.items():
        meter.create_observable_gauge(name, callbacks=[_stat_observations(name)], unit=unit,
                                      description=description)
    for name, (_, unit, description) in _WINDOW_GAUGES.items():
        meter.create_observable_gauge(name, callbacks=[_window_observations(name)], unit=unit,
                                      description=description)
    return provider
