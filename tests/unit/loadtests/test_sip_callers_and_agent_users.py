"""The SIP callers' and agent users' pure logic: plans, scenario, timelines, stages."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from hotline_events.models.calls import (
    CallAbandoned,
    CallAnswered,
    CallAnsweredByIvr,
    CallCompleted,
    CallOffered,
    CallQueued,
)
from hotline_loadtests.agents.logic import all_skills, desktop_step
from hotline_loadtests.callers import logic
from hotline_loadtests.callers.models import CallPlan, CallTimeline, Ending
from hotline_loadtests.shapes.models import CallerMix


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def test_routes_parse_and_refuse_garbage_with_the_item_named() -> None:
    assert logic.parse_routes(logic.DEMO_ROUTES) == {"general": ("800100", "0"),
                                                     "cards": ("800100", "12")}
    with pytest.raises(logic.RouteError, match="'cards=abc'"):
        logic.parse_routes("general=800100:0,cards=abc")
    with pytest.raises(logic.RouteError):
        logic.parse_routes("")


def test_plans_follow_the_mix_and_bound_patience_and_talk() -> None:
    rng = random.Random(7)
    mix = CallerMix(patience_mean_s=10, talk_mean_s=4)
    routes = logic.parse_routes(logic.DEMO_ROUTES)
    plans = [logic.plan_call(mix, routes, rng, logic.caller_number(1, n)) for n in range(2000)]
    share = sum(p.queue == "general" for p in plans) / len(plans)
    assert 0.65 < share < 0.75  # the mix says 70 % general
    assert all(p.digits == routes[p.queue][1] for p in plans)
    assert all(0 <= p.patience_s <= 30 and p.talk_s >= 3 for p in plans)
    assert len({p.caller_number for p in plans}) == len(plans)


def test_the_scenario_is_valid_xml_with_one_info_per_digit_and_a_hang_up_trigger() -> None:
    root = ET.fromstring(logic.scenario_xml("12").split("\n", 2)[2])  # after the DOCTYPE
    sends = [s.text or "" for s in root.iter("send")]
    assert sum("INFO [next_url]" in s for s in sends) == 2
    assert "Signal=1" in sends[2] and "Signal=2" in sends[3]
    recvs = [r.attrib for r in root.iter("recv")]
    assert {"request": "OPTIONS"} in recvs
    assert any(r.get("request") == "BYE" and r.get("next") == "hung_up_on" for r in recvs)
    assert "CSeq: 4 BYE" in sends[4]


def test_the_hang_up_request_names_the_call() -> None:
    req = logic.hang_up_request("hl-x-1@127.0.0.1", 5099).decode()
    assert req.startswith("OPTIONS sip:caller@127.0.0.1:5099 SIP/2.0\r\n")
    assert "\r\nCall-ID: hl-x-1@127.0.0.1\r\n" in req and req.endswith("\r\n\r\n")


def test_setup_comes_from_the_rtt_trace() -> None:
    assert logic.setup_ms("Date_ms;response_time_ms;rtd_no\n104.001;37;setup\n") == 37.0
    assert logic.setup_ms("Date_ms;response_time_ms;rtd_no\n") is None


PLAN = CallPlan("+49300001", "800100", "general", "0", patience_s=30, talk_s=8)


def test_an_answered_call_hangs_up_after_talk_and_gives_every_stage() -> None:
    tl = CallTimeline()
    assert logic.hang_up_at(PLAN, tl) is None
    logic.observe(tl, CallOffered(call_id="c1", tenant="demo-bank", site="site-a",
                                  media_node="mn-a-0.w1", dialled_number="800100"), at(100))
    logic.observe(tl, CallAnsweredByIvr(call_id="c1", tenant="demo-bank",
                                        media_node="mn-a-0.w1", ring_seconds=0), at(100.1))
    logic.observe(tl, CallQueued(call_id="c1", tenant="demo-bank", queue="general",
                                 enqueued_at=at(103)), at(103.1))
    assert logic.hang_up_at(PLAN, tl) == pytest.approx(133.1)  # patience from the queue
    logic.observe(tl, CallAnswered(call_id="c1", tenant="demo-bank", queue="general",
                                   agent_id="a1", wait_seconds=4.0), at(107.1))
    assert logic.hang_up_at(PLAN, tl) == pytest.approx(115.1)  # talk from the answer
    assert not logic.finished(tl)
    logic.observe(tl, CallCompleted(call_id="c1", tenant="demo-bank", queue="general",
                                    agent_id="a1", talk_seconds=8.1, hold_seconds=0,
                                    wrap_up_seconds=0, disposition="resolved",
                                    ended_by="caller"), at(115.3))
    assert logic.finished(tl) and logic.ending(tl) is Ending.ANSWERED
    stages = {s.name: s.ms for s in logic.stages(tl, 12.0)}
    assert stages == pytest.approx({"setup INVITE→200": 12.0, "IVR→queue": 3000.0,
                                    "wait→answered": 4000.0, "talk": 8100.0})


def test_an_abandoned_call_reports_its_wait_and_no_talk() -> None:
    tl = CallTimeline(call_id="c2", offered_at=0, ivr_answered_at=0, queued_at=3)
    logic.observe(tl, CallAbandoned(call_id="c2", tenant="demo-bank", stage="queue",
                                    queue="general", wait_seconds=30.0), at(33))
    assert logic.ending(tl) is Ending.ABANDONED
    assert [s.name for s in logic.stages(tl, None)] == ["IVR→queue", "wait→abandoned"]


def test_the_desktop_wraps_up_after_its_time_and_readies_a_not_ready_agent() -> None:
    assert desktop_step("wrap-up", 10.0, 12.0, 5.0) is None
    assert desktop_step("wrap-up", 10.0, 15.0, 5.0) == "wrap-up-done"
    assert desktop_step("not-ready", None, 0, 5) == "ready"
    # A ready request in flight is not repeated (the router may offer a call meanwhile).
    assert desktop_step("not-ready", None, 100.0, 5, ready_requested_at=95.0) is None
    assert desktop_step("not-ready", None, 100.0, 5, ready_requested_at=80.0) == "ready"
    assert all(desktop_step(s, None, 0, 5) is None for s in ("ready", "busy", "reserved", None))
    assert all_skills([("general",), ("cards",)]) == {"general": 3, "cards": 3}


def test_sipp_failures_read_as_the_sip_status_so_alike_ones_group() -> None:
    text = ("2026-11-23\t14:39:21.17\t1795444761.17: Aborting call on unexpected message for "
            "Call-Id 'hl-d7-1@127.0.0.1': while expecting '100' (index 1), received "
            "'SIP/2.0 503 No media node available\r\nVia: SIP/2.0/UDP 127.0.0.1:56212\r\n'\n"
            "Resolving remote host '127.0.0.1'... Done.\n")
    assert logic.sipp_failure(text) == "SIP 503 No media node available (expecting 100)"
    assert logic.sipp_failure("Resolving remote host '127.0.0.1'... Done.\nboom\n") == "boom"
    assert logic.sipp_failure("") == "(SIPp said nothing)"
