"""A real pjsua2 worker answers SIPp callers and publishes each call's events to Kafka.

SIPp is the carrier: DTMF both as SIP INFO (application/dtmf-relay) and as RFC 4733
telephone-events in RTP (Debian's own captures), the worker runs the IVR from
``flows/ivr.yaml`` and every call's events are read back from the real Kafka.
"""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest
from media_nodes_support import (
    SIPP_PCAPS,
    CallReader,
    Worker,
    render,
    run_sipp,
    sipp_command,
    start_worker,
    token,
    wait_for_event,
)

from devstack.kafka import KafkaCluster
from hotline_events.catalog import Catalog
from hotline_events.models import EventModel
from hotline_events.models.calls import (
    CallAbandoned,
    CallAnsweredByIvr,
    CallCompleted,
    CallOffered,
    CallQueued,
    IvrSelection,
    IvrStep,
    SelfServiceCompleted,
)
from hotline_events.models.sites import MediaNodeHeartbeat

pytestmark = pytest.mark.integration


def kinds(events: list[EventModel]) -> list[str]:
    return [type(e).__name__ for e in events]


def last_is(kind: type[EventModel]):  # type: ignore[no-untyped-def]
    return lambda events: isinstance(events[-1], kind)


def test_call_through_the_ivr_into_a_queue_then_caller_hangs_up(
        worker: Worker, sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    caller = "+4915112345601"
    scenario = render("ivr_to_queue_hangup.xml", tmp_path, caller=caller, wait_ms="1500",
                      dtmf_2_pcap=str(SIPP_PCAPS / "dtmf_2833_2.pcap"))
    run_sipp(sipp, scenario, worker.port, service="800100")

    events = call_events.wait_for(caller, last_is(CallAbandoned))
    assert kinds(events) == ["CallOffered", "CallAnsweredByIvr", "IvrStep", "IvrSelection",
                             "IvrStep", "IvrSelection", "CallQueued", "CallAbandoned"]
    offered, answered, main, pressed_1, billing, pressed_2, queued, abandoned = events
    assert isinstance(offered, CallOffered)
    assert (offered.tenant, offered.dialled_number, offered.media_node) == (
        "it-bank", "800100", "mn-it-0")
    assert offered.caller_token == token(caller) and not offered.caller_withheld
    assert isinstance(answered, CallAnsweredByIvr) and answered.ring_seconds < 5
    assert isinstance(main, IvrStep) and (main.menu_id, main.level) == ("main", 1)
    # "1" came as SIP INFO, "2" as an RFC 4733 telephone-event.
    assert isinstance(pressed_1, IvrSelection)
    assert (pressed_1.menu_id, pressed_1.option, pressed_1.target) == ("main", "1",
                                                                       "menu:billing")
    assert isinstance(billing, IvrStep) and (billing.menu_id, billing.level) == ("billing", 2)
    assert isinstance(pressed_2, IvrSelection)
    assert (pressed_2.level, pressed_2.option, pressed_2.target) == (2, "2", "queue:disputes")
    assert isinstance(queued, CallQueued)
    assert (queued.queue, queued.required_skills, queued.priority, queued.caller_tier) == (
        "disputes", ("billing", "disputes"), 3, "standard")
    assert isinstance(abandoned, CallAbandoned)
    assert (abandoned.stage, abandoned.queue) == ("queue", "disputes")
    assert 1.0 <= abandoned.wait_seconds < 30  # SIPp waited 1.5 s in the queue
    elapsed = [e.elapsed_seconds for e in (main, pressed_1, billing, pressed_2)]
    assert elapsed == sorted(elapsed) and elapsed[-1] < 10
    # The caller's number never reaches the call topic, only its token.
    assert not any(caller.lstrip("+").encode() in raw for raw in call_events.raw)


def test_speed_dial_self_service_then_the_ivr_hangs_up(
        worker: Worker, sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    caller = "+4915112345602"
    scenario = render("speed_dial_system_bye.xml", tmp_path, caller=caller,
                      bye_timeout_ms="20000")
    run_sipp(sipp, scenario, worker.port, service="800101")
    events = call_events.wait_for(caller, last_is(CallCompleted))
    assert kinds(events) == ["CallOffered", "CallAnsweredByIvr", "SelfServiceCompleted",
                             "CallCompleted"]
    service, completed = events[2], events[3]
    assert isinstance(service, SelfServiceCompleted)
    assert (service.service, service.outcome) == ("balance", "resolved")
    assert 1.0 < service.duration_seconds < 10  # the spoken answer was played
    assert isinstance(completed, CallCompleted) and completed.ended_by == "system"


def test_a_source_that_is_not_an_allow_listed_trunk_gets_403(
        worker: Worker, sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    stranger, caller = "+4915112345603", "+4915112345604"
    run_sipp(sipp, render("reject_403.xml", tmp_path, caller=stranger), worker.port,
             service="800100", source_ip="127.0.0.2")
    assert "rejected with 403: source 127.0.0.2 is not an allow-listed trunk" in \
        worker.log_text()
    # An allowed caller after it is served; the stranger left no event at all.
    run_sipp(sipp, render("speed_dial_system_bye.xml", tmp_path, caller=caller,
                          bye_timeout_ms="20000"), worker.port, service="800101")
    call_events.wait_for(caller, last_is(CallCompleted))
    assert call_events.call_of(stranger) is None


def test_malformed_sip_leaves_the_worker_answering_the_next_call(
        worker: Worker, sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    # A broken SDP gets 400 from pjsip (SIPp checks it and ACKs) ...
    run_sipp(sipp, render("bad_sdp_400.xml", tmp_path, caller="+4915112345605"),
             worker.port, service="800100")
    # ... and datagrams that are not SIP, or not parseable, are dropped.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for junk in (b"\x00\xff\xfe not sip at all\r\n\r\n",
                     b"INVITE sip:800100@127.0.0.1 SIP/2.0\r\nCSeq: x INVITE\r\n\r\n",
                     b"INVITE \r\n" * 200, b"SIP/2.0 200 OK\r\n\r\n"):
            s.sendto(junk, ("127.0.0.1", worker.port))
    caller = "+4915112345606"
    run_sipp(sipp, render("speed_dial_system_bye.xml", tmp_path, caller=caller,
                          bye_timeout_ms="20000"), worker.port, service="800101")
    events = call_events.wait_for(caller, last_is(CallCompleted))
    assert kinds(events)[0] == "CallOffered"
    assert worker.proc.poll() is None


def test_sigterm_drains_503_with_retry_after_then_ends_active_calls(
        kafka_site_a: KafkaCluster, catalog: Catalog, prompt_cache: Path, sipp: Path,
        tmp_path: Path, call_events: CallReader) -> None:
    drainer = start_worker(kafka_site_a.bootstrap, catalog, prompt_cache, tmp_path, "mn-it-drain",
                           "--drain-seconds", "6", "--retry-after", "17")
    waiting = "+4915112345607"
    scenario = render("agent_then_wait_for_bye.xml", tmp_path, caller=waiting,
                      bye_timeout_ms="40000")
    caller_a = subprocess.Popen(sipp_command(sipp, scenario, drainer.port, service="800100",
                                             timeout_s=60),
                                cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    try:
        call_events.wait_for(waiting, last_is(CallQueued))
        drainer.proc.send_signal(signal.SIGTERM)
        run_sipp(sipp, render("reject_503_retry_after.xml", tmp_path,
                              caller="+4915112345608"), drainer.port, service="800100")
        assert caller_a.wait(60) == 0, caller_a.stderr.read() if caller_a.stderr else ""
    finally:
        if caller_a.poll() is None:
            caller_a.kill()
    assert drainer.proc.wait(30) == 0, drainer.log_text()[-3000:]
    events = call_events.wait_for(waiting, last_is(CallCompleted))
    selection, queued, completed = events[-3:]
    assert isinstance(selection, IvrSelection)
    assert (selection.option, selection.target, selection.barge_in) == (
        "0", "queue:general", True)
    assert isinstance(queued, CallQueued) and queued.queue == "general"
    assert isinstance(completed, CallCompleted)
    assert (completed.ended_by, completed.disposition) == ("system", "node-drained")
    assert "rejected with 503: draining (SIGTERM)" in drainer.log_text()
    # Its heartbeat told the platform it was draining before it went away.
    beat = wait_for_event(kafka_site_a.bootstrap, catalog, MediaNodeHeartbeat,
                          lambda e: isinstance(e, MediaNodeHeartbeat)
                          and e.media_node == "mn-it-drain" and e.draining)
    assert isinstance(beat, MediaNodeHeartbeat) and beat.capacity == 4
