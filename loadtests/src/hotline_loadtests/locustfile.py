"""Hotline's Locust entry point: ``locust -f loadtests/src/hotline_loadtests/locustfile.py``.

Users: ``FirehoseUser`` (simulated media nodes and agents producing a realistic event
mix straight to Kafka, answering the streams' routing decisions). At the end of a run
the report (``--hotline-report-dir``: report.html and report.json) puts Locust's
statistics beside the service levels the platform itself published on the SLA topic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from locust import events
from locust.env import Environment

from hotline_loadtests.firehose.users import FirehoseUser, arrivals, run_window
from hotline_loadtests.report.wiring import write_report
from hotline_loadtests.settings import add_arguments, from_options

__all__ = ["FirehoseUser"]


def _arguments(parser: Any) -> None:
    add_arguments(parser)


def _check(environment: Environment, **_kwargs: Any) -> None:
    from_options(environment.parsed_options)  # a bad option fails the run at once, named


def _report(environment: Environment, **_kwargs: Any) -> None:
    write_report(environment, arrivals, run_window)


def _listen(hook: Any, listener: Callable[..., None]) -> None:
    cast(Callable[[Callable[..., None]], None], hook.add_listener)(listener)  # untyped in Locust


_listen(events.init_command_line_parser, _arguments)
_listen(events.test_start, _check)
_listen(events.quitting, _report)
