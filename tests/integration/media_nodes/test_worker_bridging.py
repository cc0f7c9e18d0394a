"""Bridging on a routing decision: SIPp is the caller and the agent's phone, Kafka is real.

The test plays the routing engine: once the caller is queued it produces the
``RoutingDecision`` itself (the streams worker is not needed at this tier), then
reads the call's events back from Kafka, in order, with their durations.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from media_nodes_support import (
    FLOW,
    SIPP_PCAPS,
    TOKEN_KEY,
    CallReader,
    RtpSink,
    Worker,
    long_pcap,
    render,
    sipp_command,
    start_sipp_uas,
    start_worker,
    token,
    wait_for_event,
    wait_sipp,
)

from devstack.kafka import KafkaCluster
from helpers.kafka_io import produce
from hotline_events.catalog import Catalog
from hotline_events.models import EventModel
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallbackOffered,
    CallCompleted,
    CallQueued,
    OfferedToAgent,
    PositionAnnounced,
    RecordingStored,
    SurveyAnswered,
)
from hotline_events.models.metrics import WaitEstimate
from hotline_events.models.routing import RoutingDecision
from hotline_events.producer import EventProducer

pytestmark = pytest.mark.integration

AUDIO = str(SIPP_PCAPS / "g711a.pcap")  # a few seconds of PCMA speech
RECORDING_KEY = base64.b64encode(bytes(range(32))).decode()
OTHER_KEY = base64.b64encode(bytes(range(1, 33))).decode()


def kinds(events: list[EventModel]) -> list[str]:
    return [type(e).__name__ for e in events]


def after_queued(events: list[EventModel]) -> list[EventModel]:
    index = next(i for i, e in enumerate(events) if isinstance(e, CallQueued))
    return events[index:]


@pytest.fixture(scope="module")
def bridging_worker(kafka_site_a: KafkaCluster, catalog: Catalog, prompt_cache: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    workdir = tmp_path_factory.mktemp("bridging")
    w = start_worker(kafka_site_a.bootstrap, catalog, prompt_cache, workdir, "mn-it-bridge",
                     "--ring-seconds", "30", "--recordings", str(workdir / "recordings"),
                     env_extra={"HOTLINE_RECORDING_KEY": RECORDING_KEY})
    yield w
    assert w.stop() == 0, f"worker exited badly:\n{w.log_text()[-3000:]}"


class Router:
    """Plays the routing engine: produces decisions for the caller's call."""

    def __init__(self, bootstrap: str, catalog: Catalog) -> None:
        self.producer = EventProducer(bootstrap, "//hotline/site-a/streams/it-routing",
                                      catalog=catalog)

    def decide(self, queued: CallQueued, agent_id: str, agent_port: int,
               decision_id: str | None = None) -> RoutingDecision:
        decision = RoutingDecision(
            decision_id=decision_id or f"d-{uuid.uuid4().hex[:12]}", call_id=queued.call_id,
            tenant=queued.tenant, queue=queued.queue, agent_id=agent_id, site="site-a",
            rule="longest-idle", waited_seconds=1.0, candidates=1,
            agent_uri=f"sip:{agent_id}@127.0.0.1:{agent_port}")
        self.producer.publish(decision)
        self.producer.flush(30)
        return decision

    def estimate(self, queued: CallQueued, position: int, seconds: float) -> None:
        """Plays the streams' wait estimator for the caller's call."""
        self.producer.publish(WaitEstimate(
            call_id=queued.call_id, tenant=queued.tenant, queue=queued.queue,
            as_of=datetime.now(UTC), position=position, estimated_wait_seconds=seconds,
            method="agents-free-times"))
        self.producer.flush(30)


@pytest.fixture(scope="module")
def router(kafka_site_a: KafkaCluster, catalog: Catalog) -> Router:
    return Router(kafka_site_a.bootstrap, catalog)


def start_caller(sipp: Path, scenario: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(sipp_command(sipp, scenario, port, service="800100", timeout_s=90),
                            cwd=scenario.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def queued_event(call_events: CallReader, caller: str) -> CallQueued:
    events = call_events.wait_for(caller, lambda evs: any(isinstance(e, CallQueued)
                                                           for e in evs))
    queued = next(e for e in events if isinstance(e, CallQueued))
    return queued


def test_agent_answers_talks_hangs_up_and_the_caller_answers_the_survey(
        bridging_worker: Worker, router: Router, sipp: Path, tmp_path: Path,
        call_events: CallReader) -> None:
    caller, agent = "+4915112345611", "agent-7"
    agent_scenario = render("agent_answers_then_hangs_up.xml", tmp_path, agent=agent,
                            ring_ms="800", talk_ms="1500", audio_pcap=AUDIO)
    # The agent phone's audio port is the test's own socket: what the caller says must
    # arrive there through the node's bridge.
    # (The phone sends nothing itself: pjmedia would latch onto the sender's address.)
    earpiece = RtpSink()
    text = agent_scenario.read_text().replace("m=audio [media_port]",
                                              f"m=audio {earpiece.port}")
    agent_scenario.write_text(text.replace(f'<exec play_pcap_audio="{AUDIO}"/>', ""))
    phone, phone_port = start_sipp_uas(sipp, agent_scenario)
    # The caller talks for ~19 s, however long routing takes on a busy machine.
    speech = long_pcap(SIPP_PCAPS / "g711a.pcap", tmp_path / "speech.pcap", 4)
    caller_scenario = render("caller_agent_survey.xml", tmp_path, caller=caller, score="4",
                             audio_pcap=str(speech))
    calling = start_caller(sipp, caller_scenario, bridging_worker.port)
    try:
        queued = queued_event(call_events, caller)
        decision = router.decide(queued, agent, phone_port)
        wait_sipp(phone, agent_scenario)
        wait_sipp(calling, caller_scenario)
    finally:
        earpiece.close()
        for proc in (phone, calling):
            if proc.poll() is None:
                proc.kill()
    # The caller's speech (g711a.pcap) reached the agent's ear: not only silence frames.
    assert earpiece.speech_packets() >= 20, f"{len(earpiece.packets)} packets, none speech"
    # The recording is sealed once pjmedia has closed its file: it may come during the
    # survey or after the call completed (sealing waits up to 5 s for the file).
    events = after_queued(call_events.wait_for(
        caller, lambda evs: any(isinstance(e, CallCompleted) for e in evs)
        and any(isinstance(e, RecordingStored) for e in evs)))
    recording = next(e for e in events if isinstance(e, RecordingStored))
    events = [e for e in events if e is not recording]
    assert kinds(events) == ["CallQueued", "OfferedToAgent", "AgentRinging", "CallAnswered",
                             "SurveyAnswered", "CallCompleted"]
    _queued, offered, ringing, answered, survey, completed = events
    assert isinstance(offered, OfferedToAgent)
    assert (offered.agent_id, offered.decision_id, offered.queue) == (
        agent, decision.decision_id, "general")
    assert isinstance(ringing, AgentRinging) and ringing.agent_id == agent
    assert isinstance(answered, CallAnswered) and answered.agent_id == agent
    assert 0.8 <= answered.wait_seconds < 30  # queued, decided, rang 0.8 s
    assert isinstance(survey, SurveyAnswered)
    assert (survey.question_id, survey.score, survey.agent_id) == ("satisfaction", 4, agent)
    assert isinstance(completed, CallCompleted)
    assert (completed.ended_by, completed.agent_id, completed.queue) == (agent and "agent",
                                                                          agent, "general")
    assert 1.0 <= completed.talk_seconds < 10  # the phone talked 1.5 s, then hung up
    assert f"caller and agent {agent} connected" in bridging_worker.log_text()

    # One trace follows the call: every event of it carries the same trace id.
    traces = {e.traceparent.split("-")[1] if e.traceparent else None
              for e in call_events.events if e.subject == completed.call_id}
    assert len(traces) == 1 and None not in traces, traces
    # The recording: sealed at rest, opened by the CLI with the key only, as long as the talk.
    assert isinstance(recording, RecordingStored) and recording.agent_id == agent
    sealed = Path(recording.uri.removeprefix("file://"))
    assert sealed.stat().st_size == recording.size_bytes and sealed.suffix == ".aesgcm"
    assert b"RIFF" not in sealed.read_bytes()[:4096]
    wrong = decrypt(sealed, tmp_path / "wrong.wav", OTHER_KEY)
    assert wrong.returncode == 1 and "authentication failed" in wrong.stderr
    assert not (tmp_path / "wrong.wav").exists()
    done = decrypt(sealed, tmp_path / "call.wav", RECORDING_KEY)
    assert done.returncode == 0, done.stderr
    with wave.open(str(tmp_path / "call.wav"), "rb") as wav:
        seconds = wav.getnframes() / wav.getframerate()
        frames = wav.readframes(wav.getnframes())
    assert abs(seconds - recording.duration_seconds) < 0.05
    assert abs(seconds - completed.talk_seconds) < 0.5
    assert max(abs(int.from_bytes(frames[i:i + 2], "little", signed=True))
               for i in range(0, len(frames), 2)) > 1000  # speech, not silence


def decrypt(sealed: Path, out: Path, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotline_media_nodes.cli", "recording",
                           "decrypt", str(sealed), "--out", str(out)],
                          env={**os.environ, "HOTLINE_RECORDING_KEY": key},
                          capture_output=True, text=True, timeout=60)


def test_recording_on_without_a_key_is_a_clear_start_up_error(
        kafka_site_a: KafkaCluster, catalog: Catalog, prompt_cache: Path,
        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_RECORDING_KEY")}
    done = subprocess.run(
        [sys.executable, "-m", "hotline_media_nodes.worker", "--flow", str(FLOW),
         "--allow", "127.0.0.1", "--kafka", kafka_site_a.bootstrap, "--prompt-cache",
         str(prompt_cache), "--recordings", str(tmp_path / "rec")],
        env={**env, "HOTLINE_CALLER_TOKEN_KEY": TOKEN_KEY}, capture_output=True, text=True,
        timeout=60)
    assert done.returncode == 2
    assert "cannot start: recording is on (--recordings" in done.stderr
    assert "no recording key is set" in done.stderr
    assert "HOTLINE_RECORDING_KEY" in done.stderr and "ready" not in done.stdout


def test_caller_hangs_up_while_the_agent_rings_and_the_invite_is_cancelled(
        bridging_worker: Worker, router: Router, sipp: Path, tmp_path: Path,
        kafka_site_a: KafkaCluster, catalog: Catalog, call_events: CallReader) -> None:
    caller, agent = "+4915112345612", "agent-8"
    agent_scenario = render("agent_rings_until_cancel.xml", tmp_path, agent=agent,
                            cancel_timeout_ms="60000")
    phone, phone_port = start_sipp_uas(sipp, agent_scenario)
    caller_scenario = render("caller_agent_then_hangup.xml", tmp_path, caller=caller,
                             wait_ms="8000", audio_pcap=AUDIO)
    calling = start_caller(sipp, caller_scenario, bridging_worker.port)
    # Someone who can write routing decisions points the caller at a phone of their own
    # (another address than the agents'): the worker must not ring it.
    eavesdropper_scenario = render("agent_rings_until_cancel.xml", tmp_path, agent=agent,
                                   cancel_timeout_ms="60000")
    eavesdropper, eavesdropper_port = start_sipp_uas(sipp, eavesdropper_scenario,
                                                     host="127.0.0.2")
    try:
        queued = queued_event(call_events, caller)
        # A record that breaks the contract first: logged and skipped, nothing lost.
        produce(kafka_site_a.bootstrap, catalog.topic_for_type(RoutingDecision.TYPE).name,
                [(b"it-bank", b'{"decision_id": "not a CloudEvent"}')])
        forged = RoutingDecision(
            decision_id=f"d-{uuid.uuid4().hex[:12]}", call_id=queued.call_id,
            tenant=queued.tenant, queue=queued.queue, agent_id=agent, site="site-a",
            rule="longest-idle", waited_seconds=1.0, candidates=1,
            agent_uri=f"sip:{agent}@127.0.0.2:{eavesdropper_port}")
        router.producer.publish(forged)  # same key as the real decision: handled first
        router.decide(queued, agent, phone_port)
        wait_sipp(calling, caller_scenario)
        wait_sipp(phone, agent_scenario)  # it got the CANCEL, answered 487, got the ACK
    finally:
        for proc in (phone, calling, eavesdropper):
            if proc.poll() is None:
                proc.kill()
    events = after_queued(call_events.wait_for(
        caller, lambda evs: isinstance(evs[-1], CallAbandoned)))
    assert kinds(events) == ["CallQueued", "OfferedToAgent", "AgentRinging", "CallAbandoned"]
    assert "breaks the event contract (record lacks CloudEvents header(s)" in \
        bridging_worker.log_text()
    assert f"decision {forged.decision_id} names agent_uri" in bridging_worker.log_text()
    messages = eavesdropper_scenario.with_suffix(".msg")
    assert "INVITE" not in (messages.read_text() if messages.exists() else ""), \
        "the eavesdropper's phone rang"
    abandoned = events[-1]
    assert isinstance(abandoned, CallAbandoned)
    assert (abandoned.stage, abandoned.queue) == ("ringing", "general")
    assert 4.0 <= abandoned.wait_seconds < 30  # the caller gave up 8 s after pressing 0


def test_rona_then_a_second_agent_answers_and_the_caller_hangs_up_while_talking(
        kafka_site_a: KafkaCluster, catalog: Catalog, prompt_cache: Path, router: Router,
        sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    worker = start_worker(kafka_site_a.bootstrap, catalog, prompt_cache, tmp_path, "mn-it-rona",
                          "--ring-seconds", "3")
    caller, first, second = "+4915112345613", "agent-9", "agent-10"
    no_answer = render("agent_rings_until_cancel.xml", tmp_path, agent=first,
                       cancel_timeout_ms="60000")
    answers = render("agent_answers_waits_for_bye.xml", tmp_path, agent=second, ring_ms="300",
                     bye_timeout_ms="60000", audio_pcap=AUDIO)
    phone_1, port_1 = start_sipp_uas(sipp, no_answer)
    phone_2, port_2 = start_sipp_uas(sipp, answers)
    caller_scenario = render("caller_agent_then_hangup.xml", tmp_path, caller=caller,
                             wait_ms="16000", audio_pcap=AUDIO)
    # The caller's ear is the test's socket (and the caller says nothing, so the node
    # keeps sending there): after the answer, what arrives is the agent speaking.
    ear = RtpSink()
    text = caller_scenario.read_text().replace("m=audio [media_port]", f"m=audio {ear.port}")
    caller_scenario.write_text(text.replace(f'<exec play_pcap_audio="{AUDIO}"/>', ""))
    calling = start_caller(sipp, caller_scenario, worker.port)
    try:
        queued = queued_event(call_events, caller)
        first_decision = router.decide(queued, first, port_1)
        call_events.wait_for(caller, lambda evs: isinstance(evs[-1], AgentNoAnswer))
        wait_sipp(phone_1, no_answer)  # the node cancelled the INVITE after 3 s
        # The same decision again (a replay) is not acted on twice; a new one is.
        router.decide(queued, first, port_1, decision_id=first_decision.decision_id)
        router.decide(queued, second, port_2)
        wait_sipp(calling, caller_scenario)
        wait_sipp(phone_2, answers)  # the node hung the agent up after the caller left
    finally:
        ear.close()
        for proc in (phone_1, phone_2, calling):
            if proc.poll() is None:
                proc.kill()
    events = after_queued(call_events.wait_for(
        caller, lambda evs: isinstance(evs[-1], CallCompleted)))
    assert kinds(events) == ["CallQueued", "OfferedToAgent", "AgentRinging", "AgentNoAnswer",
                             "OfferedToAgent", "AgentRinging", "CallAnswered", "CallCompleted"]
    rona, offered_2, answered, completed = events[3], events[4], events[6], events[7]
    assert isinstance(rona, AgentNoAnswer) and rona.agent_id == first
    assert 3.0 <= rona.ring_seconds < 8
    assert isinstance(offered_2, OfferedToAgent) and offered_2.agent_id == second
    assert isinstance(answered, CallAnswered) and answered.agent_id == second
    assert answered.wait_seconds > rona.ring_seconds  # the wait counts from the enqueue
    assert isinstance(completed, CallCompleted)
    assert (completed.ended_by, completed.agent_id) == ("caller", second)
    assert 1.0 <= completed.talk_seconds < 60  # SIPp's 16 s pause stretches on a busy machine
    assert f"decision {first_decision.decision_id} was already acted on" in worker.log_text()
    answered_at = next(e.time for e in call_events.events if isinstance(e.data, CallAnswered)
                       and e.data.call_id == queued.call_id)
    # The hold prompt stops at the answer; later speech is the agent's (g711a.pcap).
    assert ear.speech_packets(since=answered_at.timestamp() + 0.5) >= 20
    assert worker.stop() == 0, worker.log_text()[-3000:]


def test_position_announced_then_a_callback_offered_and_accepted(
        bridging_worker: Worker, router: Router, sipp: Path, tmp_path: Path,
        kafka_site_a: KafkaCluster, catalog: Catalog, call_events: CallReader) -> None:
    caller = "+4915112345614"
    # The caller keeps pressing 1 (ignored while it is only waiting) until the node hangs up.
    scenario = render("caller_agent_survey.xml", tmp_path, caller=caller, score="1",
                      audio_pcap=AUDIO)
    calling = start_caller(sipp, scenario, bridging_worker.port)
    try:
        queued = queued_event(call_events, caller)
        router.estimate(queued, position=2, seconds=90)
        announced = call_events.wait_for(
            caller, lambda evs: any(isinstance(e, PositionAnnounced) for e in evs))
        router.estimate(queued, position=2, seconds=600)  # more than the 120 s threshold
        wait_sipp(calling, scenario)  # confirmed, then the node said goodbye
    finally:
        if calling.poll() is None:
            calling.kill()
    events = after_queued(call_events.wait_for(
        caller, lambda evs: isinstance(evs[-1], CallCompleted)))
    assert [k for k in kinds(events) if k != "PositionAnnounced"] == [
        "CallQueued", "CallbackOffered", "CallCompleted"]
    position = next(e for e in announced if isinstance(e, PositionAnnounced))
    assert (position.queue, position.position, position.estimated_wait_seconds) == (
        "general", 2, 90)
    offered, completed = events[-2], events[-1]
    assert isinstance(offered, CallbackOffered)
    assert (offered.estimated_wait_seconds, offered.promised_within_seconds) == (600, 3600)
    assert isinstance(completed, CallCompleted)
    assert (completed.ended_by, completed.disposition, completed.queue) == (
        "system", "callback-requested", "general")
    request = wait_for_event(kafka_site_a.bootstrap, catalog, CallbackRequested,
                             lambda e: getattr(e, "call_id", None) == queued.call_id)
    assert isinstance(request, CallbackRequested)
    assert (request.reason, request.queue, request.caller_token) == (
        "caller-request", "general", token(caller))
    assert request.original_enqueued_at == queued.enqueued_at  # keeps its place in line
