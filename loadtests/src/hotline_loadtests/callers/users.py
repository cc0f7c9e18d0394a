"""The Locust user that places real SIP calls through the edge (``SipCallerUser``).

One user is one arrival stream: it draws Poisson arrivals from the load shape (its share
of the rate when there are several) and starts each caller in its own greenlet, one
SIPp process per call. Stage timings: call setup (INVITE→200) from SIPp's response-time
trace; IVR→queue, the wait (answered or abandoned) and talk from the call's events on
Kafka, found by the caller token of the call's unique caller number. Each call also
gives one "sip call" sample named by how it ended, failed if the call went wrong.
"""

from __future__ import annotations

import itertools
import logging
import random
import tempfile
import time
from pathlib import Path

import gevent  # type: ignore[import-untyped]
from gevent.pool import Group  # type: ignore[import-untyped]
from locust import User, constant, task

from hotline_events.pii import caller_token, token_key
from hotline_loadtests.callers import logic
from hotline_loadtests.callers.adapters import CallEvents, SippCall
from hotline_loadtests.callers.models import CallPlan, CallTimeline, Ending
from hotline_loadtests.settings import RunSettings, from_options
from hotline_loadtests.shapes.logic import next_arrival

log = logging.getLogger("hotline.loadtests.callers")

OFFERED_WITHIN_S = 30.0  # INVITE to CallOffered on Kafka, on a loaded 2-core machine
QUEUED_WITHIN_S = 60.0  # IVR prompts and digits, then the queue
CLOSED_WITHIN_S = 30.0  # hang-up to the call's last event and SIPp's exit
POLL_S = 0.1

# What the report reads afterwards (this process's view).
arrivals: list[float] = []
run_window: dict[str, float] = {}
_streams = itertools.count(1)


class CallFailed(Exception):
    pass


class SipCallerUser(User):
    """Real callers through the SIP edge; ``fixed_count`` is ``--hotline-dialers``."""

    fixed_count = 1
    wait_time = constant(0)

    def on_start(self) -> None:
        self.settings: RunSettings = from_options(self.environment.parsed_options)
        s = self.settings
        if not s.sip_edge:
            raise CallFailed("--hotline-sip-edge (host:port of the SIP edge) is required for "
                             "SIP callers")
        self.key = token_key()
        self.routes = logic.parse_routes(s.sip_routes)
        self.stream = next(_streams)
        self.rng = random.Random(s.seed * 1000 + self.stream)
        self.numbers = itertools.count(1)
        self.workdir = Path(tempfile.mkdtemp(prefix="hotline-callers-"))
        self.scenarios: dict[str, Path] = {}
        self.events = CallEvents(s.kafka, s.catalog)
        self.pumping = gevent.spawn(self._pump)
        self.calls = Group()

    def on_stop(self) -> None:
        self.calls.kill(block=True, timeout=10)
        self.pumping.kill(block=True, timeout=5)
        self.events.close()

    def _pump(self) -> None:
        while True:
            if self.events.pump() == 0:
                gevent.sleep(0.05)  # nothing new: let the callers' greenlets run
            else:
                gevent.sleep(0)

    def _scenario(self, digits: str) -> Path:
        if digits not in self.scenarios:
            path = self.workdir / f"caller-{digits or 'none'}.xml"
            path.write_text(logic.scenario_xml(digits))
            self.scenarios[digits] = path
        return self.scenarios[digits]

    @task
    def dial(self) -> None:
        s = self.settings
        started = time.time()
        run_window.setdefault("started_at", started)
        share = s.shape_share(s.dialers)
        next_t = next_arrival(share, 0.0, self.rng)
        while next_t is not None:
            wait = started + next_t - time.time()
            if wait > 0:
                gevent.sleep(wait)
            arrivals.append(time.time())
            number = logic.caller_number(self.stream, next(self.numbers))
            plan = logic.plan_call(s.mix, self.routes, self.rng, number)
            self.calls.spawn(self._call, plan)
            next_t = next_arrival(share, next_t, self.rng)
        # Calls in progress finish: the longest is patience (<= 3x mean) + talk.
        self.calls.join(timeout=3 * s.mix.patience_mean_s + 10 * s.mix.talk_mean_s + 120)
        run_window["ended_at"] = time.time()
        runner = self.environment.runner
        if getattr(self.environment.parsed_options, "headless", False) and runner is not None:
            # From another greenlet: quit() stops the users, this one among them.
            gevent.spawn(runner.quit).join()

    def _call(self, plan: CallPlan) -> None:
        began = time.time()
        token = caller_token(plan.caller_number, self.key)
        timeline = self.events.expect(token)
        sipp = SippCall(plan=plan, edge=self.settings.sip_edge,
                        workdir=self.workdir / f"call-{plan.caller_number.lstrip('+')}",
                        scenario=self._scenario(plan.digits))
        failure: str | None = None
        try:
            sipp.start()
            failure = self._follow(plan, sipp, timeline, began)
        except (OSError, CallFailed) as exc:
            failure = str(exc)
        finally:
            sipp.stop()
        if failure is None and sipp.exit_code() not in (0, None):
            failure = f"SIPp exited {sipp.exit_code()}: {logic.sipp_failure(sipp.errors())}"
        for stage in logic.stages(timeline, sipp.setup_ms()):
            self._sample(stage.name, stage.ms)
        end = logic.ending(timeline)
        if failure is not None:
            log.error("caller %s (queue %s, call %s): %s; the run goes on", plan.caller_number,
                      plan.queue, timeline.call_id or "never offered", failure)
            self._sample(f"call {Ending.FAILED.value}", (time.time() - began) * 1000,
                         CallFailed(failure))
        else:
            self._sample(f"call {end.value}", (time.time() - began) * 1000)
            sipp.clean_up()  # a failed call's SIPp files stay for the post-mortem
        self.events.forget(token, timeline)

    def _follow(self, plan: CallPlan, sipp: SippCall, timeline: CallTimeline,
                began: float) -> str | None:
        """Drives one call to its end; the reason it failed, or None."""
        hung_up_at: float | None = None
        limit = began + QUEUED_WITHIN_S + plan.patience_s + plan.talk_s + CLOSED_WITHIN_S + 60
        while True:
            now = time.time()
            if timeline.offered_at is None and now - began > OFFERED_WITHIN_S:
                said = "running" if sipp.running() else logic.sipp_failure(sipp.errors())
                return (f"no CallOffered for caller token within {OFFERED_WITHIN_S:.0f} s "
                        f"(SIPp: {said})")
            if timeline.offered_at is not None and timeline.queued_at is None \
                    and now - timeline.offered_at > QUEUED_WITHIN_S and hung_up_at is None:
                return f"not queued within {QUEUED_WITHIN_S:.0f} s of the offer ({timeline.types})"
            due = logic.hang_up_at(plan, timeline)
            if hung_up_at is None and due is not None and now >= due and sipp.running():
                sipp.hang_up()
                hung_up_at = now
            if logic.finished(timeline) and not sipp.running():
                return None
            if not sipp.running() and hung_up_at is None and not logic.finished(timeline):
                # SIPp ended on its own: the platform hung up, or SIP failed.
                if sipp.exit_code() != 0:
                    return f"SIPp exited {sipp.exit_code()}: {logic.sipp_failure(sipp.errors())}"
                hung_up_at = now  # wait for the platform's closing event
            if hung_up_at is not None and now - hung_up_at > CLOSED_WITHIN_S:
                return (f"no closing event within {CLOSED_WITHIN_S:.0f} s of the hang-up "
                        f"(events: {timeline.types}; SIPp "
                        f"{'running' if sipp.running() else f'exit {sipp.exit_code()}'})")
            if now > limit:
                return f"call still open after {now - began:.0f} s ({timeline.types})"
            gevent.sleep(POLL_S)

    def _sample(self, name: str, ms: float, exc: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type="sip call", name=name, response_time=ms, response_length=0,
            exception=exc, context={})
