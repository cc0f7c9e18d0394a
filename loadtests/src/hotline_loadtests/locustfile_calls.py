"""Hotline's Locust entry point for real calls:
``locust -f loadtests/src/hotline_loadtests/locustfile_calls.py --host <streams URL>``.

Users: ``SipCallerUser`` (arrival streams placing real SIP calls through the edge with
SIPp, ``--hotline-dialers`` of them) and ``AgentUser`` (agents on the streams' agent
API whose phone is the SIPp UAS the media nodes ring, ``--hotline-agents`` of them).
``./hotline loadtest`` starts the platform and runs this file. At the end of a run the
report (``--hotline-report-dir``) puts Locust's statistics beside the service levels
the platform published on the SLA topic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from locust import events
from locust.env import Environment

from hotline_loadtests.agents.users import AgentUser
from hotline_loadtests.callers import users as callers
from hotline_loadtests.callers.users import SipCallerUser
from hotline_loadtests.report.wiring import write_report
from hotline_loadtests.settings import add_arguments, from_options

__all__ = ["AgentUser", "SipCallerUser"]


def _arguments(parser: Any) -> None:
    add_arguments(parser)


def _counts(environment: Environment, **_kwargs: Any) -> None:
    # Every process (master and workers) sizes the user classes from the same options.
    settings = from_options(environment.parsed_options)
    SipCallerUser.fixed_count = settings.dialers
    AgentUser.fixed_count = settings.agents


def _check(environment: Environment, **_kwargs: Any) -> None:
    from_options(environment.parsed_options)  # a bad option fails the run at once, named


def _report(environment: Environment, **_kwargs: Any) -> None:
    write_report(environment, callers.arrivals, callers.run_window,
                 notes=["SIP callers: setup from SIPp's response-time trace; IVR→queue, "
                        "waits and talk from the call events on Kafka (matched by caller "
                        "token, then call id)."])


def _listen(hook: Any, listener: Callable[..., None]) -> None:
    cast(Callable[[Callable[..., None]], None], hook.add_listener)(listener)  # untyped in Locust


_listen(events.init_command_line_parser, _arguments)
_listen(events.init, _counts)
_listen(events.test_start, _check)
_listen(events.quitting, _report)
