"""The scheduler's figures as OpenTelemetry instruments, scraped at ``/metrics``.

Success rate is ``connected / dialled`` over any range in the scraper; time from
request to connection is a histogram; recovered abandons are automatic callbacks
(after an abandon at a surge) that connected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.metrics import MeterProvider

from hotline_streams.callbacks.models import Callback

_TIME_TO_CONNECT_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


class CallbackMetrics:
    def __init__(self, meter: Meter, open_count: Callable[[], dict[tuple[str, str], int]]) -> None:
        self.requested = meter.create_counter(
            "hotline.callbacks.requested", "{callback}", "Callbacks stored (by reason).")
        self.dialled = meter.create_counter(
            "hotline.callbacks.dialled", "{attempt}", "Dial commands sent (attempts).")
        self.connected = meter.create_counter(
            "hotline.callbacks.connected", "{callback}", "Customers who picked up.")
        self.failed = meter.create_counter(
            "hotline.callbacks.failed", "{attempt}", "Failed dial attempts (by reason).")
        self.cancelled = meter.create_counter(
            "hotline.callbacks.cancelled", "{callback}", "Callbacks ended without a "
            "connection (by reason).")
        self.refused = meter.create_counter(
            "hotline.callbacks.refused", "{callback}", "Callbacks the destination policy "
            "refused, never dialled (by reason: emergency-number, premium-rate, …).")
        self.recovered_abandons = meter.create_counter(
            "hotline.callbacks.recovered_abandons", "{callback}",
            "Automatic callbacks after an abandon that connected.")
        self.time_to_connect = meter.create_histogram(
            "hotline.callbacks.time_to_connect", "s", "From the request to the customer "
            "picking up.", explicit_bucket_boundaries_advisory=_TIME_TO_CONNECT_BUCKETS)

        def observe(_options: CallbackOptions) -> Iterator[Observation]:
            for (tenant, queue), n in open_count().items():
                yield Observation(n, {"tenant": tenant, "queue": queue})

        meter.create_observable_gauge("hotline.callbacks.open", callbacks=[observe],
                                      unit="{callback}", description="Open callbacks.")

    def on_connected(self, cb: Callback, at: float) -> None:
        queue = labels(cb)
        self.connected.add(1, queue)
        self.time_to_connect.record(max(at - cb.requested_at, 0.0), queue)
        if cb.reason == "abandoned-auto":
            self.recovered_abandons.add(1, queue)


def labels(cb: Callback, **extra: str) -> dict[str, Any]:
    return {"tenant": cb.tenant, "queue": cb.queue, **extra}


def prometheus_provider() -> MeterProvider:
    """A provider whose reader feeds prometheus_client's default registry."""
    return MeterProvider(metric_readers=[PrometheusMetricReader()])
