"""Hotline's Locust entry point: ``locust -f loadtests/src/hotline_loadtests/locustfile.py``.

Users: ``FirehoseUser`` (simulated media nodes and agents producing a realistic event
mix straight to Kafka, answering the streams' routing decisions). At the end of a run
the report (``--hotline-report-dir``: report.html and report.json) puts Locust's
statistics beside the service levels the platform itself published on the SLA topic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from hotline_loadtests.firehose.users import FirehoseUser, arrivals, run_window
from hotline_loadtests.report import adapters, logic, render
from hotline_loadtests.report.models import Report, StageStats
from hotline_loadtests.settings import add_arguments, from_options

__all__ = ["FirehoseUser"]

log = logging.getLogger("hotline.loadtests")


def _arguments(parser: Any) -> None:
    add_arguments(parser)


def _check(environment: Environment, **_kwargs: Any) -> None:
    from_options(environment.parsed_options)  # a bad option fails the run at once, named


def _report(environment: Environment, **_kwargs: Any) -> None:
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
               "statistics records."])
    page, data = render.write(report, settings.report_dir)
    log.info("report written: %s (%s)", page, data)
    print(f"report: {page}", flush=True)


def _listen(hook: Any, listener: Callable[..., None]) -> None:
    cast(Callable[[Callable[..., None]], None], hook.add_listener)(listener)  # untyped in Locust


_listen(events.init_command_line_parser, _arguments)
_listen(events.test_start, _check)
_listen(events.quitting, _report)
