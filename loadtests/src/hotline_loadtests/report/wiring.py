"""The report at the end of a Locust run (the ``quitting`` listener's body)."""

from __future__ import annotations

import logging
import time

from locust.env import Environment
from locust.runners import WorkerRunner

from hotline_loadtests.report import adapters, logic, render
from hotline_loadtests.report.models import Report, StageStats
from hotline_loadtests.settings import from_options

log = logging.getLogger("hotline.loadtests")


def write_report(environment: Environment, arrivals: list[float],
                 run_window: dict[str, float], notes: list[str] | None = None) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master (or the single process) writes the report
    settings = from_options(environment.parsed_options)
    started = run_window.get("started_at", time.time())
    ended = run_window.get("ended_at", time.time())
    stages = [StageStats(kind=e.method or "", name=e.name, count=e.num_requests,
                         failures=e.num_failures, median_ms=e.median_response_time,
                         p95_ms=e.get_response_time_percentile(0.95),
                         p99_ms=e.get_response_time_percentile(0.99))
              for e in environment.stats.entries.values()]
    intervals = adapters.sla_intervals(settings.kafka, settings.catalog, started - 900)
    statistics = adapters.queue_statistics(settings.kafka, settings.catalog, started)
    ours = [i for i in intervals if i.tenant == settings.mix.tenant]
    report = Report(
        title=f"Hotline load test: {settings.shape.kind.value}, tenant {settings.mix.tenant}",
        started_at=started, ended_at=ended, shape=settings.shape.kind.value, stages=stages,
        queues=logic.queue_outcomes(ours),
        timeline=logic.timeline(started, ended, arrivals, statistics, ours),
        notes=[f"{len(arrivals)} arrivals; {len(ours)} SLA interval records of "
               f"{settings.mix.tenant} read from the SLA topic; {len(statistics)} queue "
               "statistics records.", *(notes or [])])
    page, data = render.write(report, settings.report_dir)
    log.info("report written: %s (%s)", page, data)
    print(f"report: {page}", flush=True)
