"""The per-call controller: turns queued pjsua2 events into IVR steps and call events.

Plain Python between the pure logic (``ivr.machine``, ``worker.logic``) and pjsua2
(``worker.pjsip``). It runs only on the worker's main thread.
"""

from __future__ import annotations

import gc
import ipaddress
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from hotline_events.models import EventModel
from hotline_events.models.callbacks import DialCallback
from hotline_events.models.calls import RecordingStored
from hotline_events.models.metrics import WaitEstimate
from hotline_events.models.routing import RoutingDecision
from hotline_events.models.sites import MediaNodeHeartbeat
from hotline_media_nodes.bridging import logic as bridging
from hotline_media_nodes.bridging import models as bridge
from hotline_media_nodes.dialling import logic as dialling
from hotline_media_nodes.ivr import machine
from hotline_media_nodes.ivr.models import Flow, QueueTarget, Target
from hotline_media_nodes.lookups.adapters import Lookups
from hotline_media_nodes.lookups.logic import LookupFailed
from hotline_media_nodes.prompts import PromptFile
from hotline_media_nodes.recording import adapters as recordings
from hotline_media_nodes.recording.models import RecordingStore
from hotline_media_nodes.waiting import logic as waiting
from hotline_media_nodes.waiting import models as wait
from hotline_media_nodes.worker import logic, pjsip

log = logging.getLogger("hotline.media.worker")


class Publisher(Protocol):
    def publish(self, data: EventModel, *, traceparent: str | None = None) -> Any: ...


@dataclass
class Session:
    call: pjsip.Call
    label: str  # for logs: "call <id> (sip <Call-ID>)"
    record: logic.CallRecord | None = None  # None: rejected, waiting for pjsua to let go
    flow: Flow | None = None
    state: machine.IvrState | None = None
    media_ready: bool = False
    pending: machine.Play | None = None
    player: pjsip.Player | None = None
    prompt_ends_at: float | None = None
    input_deadline: float | None = None
    bridge: bridge.Bridge | None = None  # set once the call is queued
    agent: pjsip.Call | None = None  # the current agent leg
    agent_media_ready: bool = False
    connected: bool = False  # caller and agent audio connected both ways
    after_prompt: Literal["survey-window", "hang-up", "waiting"] | None = None
    traceparent: str | None = None  # one trace for all of the call's events
    waiting: wait.Waiting | None = None  # announcements / callback offer while queued
    recorder: pjsip.Recorder | None = None
    lookup: PendingLookup | None = None
    recording_path: Path | None = None


@dataclass(frozen=True)
class Identity:
    site: str
    media_node: str
    retry_after: int = 30


@dataclass(frozen=True)
class BridgeConfig:
    ring_seconds: float = 15.0  # RONA: no answer within this → AgentNoAnswer, back to queue
    agent_uri_template: str = "sip:{agent_id}@127.0.0.1:5090"  # when a decision has no URI
    dial_uri_template: str = "sip:{number}@127.0.0.1:5060"  # callbacks: the carrier trunk
    dial_ring_seconds: float = 30.0  # a customer not answering by then: no-answer


@dataclass
class Outbound:
    """A callback being dialled: pjsua's call, and the command it carries out."""

    call: pjsip.Call
    cmd: DialCallback
    outbound_call_id: str
    flow: Flow
    queue: QueueTarget
    dialled_at: float
    traceparent: str  # continues the trace of the call the callback came from
    media_ready: bool = False


@dataclass(frozen=True)
class PendingLookup:
    service: str
    future: Future[str]
    deadline: float  # monotonic: the HTTP timeout, plus a little for the thread


@dataclass(frozen=True)
class ClosingRecording:
    """A stopped recorder whose file pjmedia has yet to close; then it is sealed."""

    label: str
    path: Path
    call_id: str
    tenant: str
    agent_id: str | None
    recording_id: str
    deadline: float  # monotonic: seal whatever is there by then
    traceparent: str | None = None


# Every caller must stay bridgeable: a caller and its agent are two of the endpoint's legs,
# so a worker admits half its legs as callers (the edge's max_load should match).
MAX_CALLERS = pjsip.MAX_CALLS // 2


class Controller:
    def __init__(self, identity: Identity, flows: Mapping[str, Flow],
                 prompts: Mapping[str, Mapping[str, PromptFile]],
                 allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
                 publisher: Publisher, token_key: bytes,
                 clock: Callable[[], float] = time.monotonic, *,
                 dialler: Callable[[str], pjsip.Call] | None = None,
                 bridging_config: BridgeConfig | None = None,
                 recording_store: RecordingStore | None = None) -> None:
        self.identity = identity
        self.flows = flows
        self.prompts = prompts
        self.allow = allow
        self.publisher = publisher
        self.token_key = token_key
        self.clock = clock
        self.sessions: dict[int, Session] = {}
        self.by_call_id: dict[str, Session] = {}
        # Agent legs by pjsua id, held until pjsua reports each one disconnected (also
        # after the caller's session is gone: the Call object must outlive the leg).
        self.agent_legs: dict[int, tuple[pjsip.Call, Session]] = {}
        self.dialler = dialler
        self.bridging = bridging_config or BridgeConfig()
        self.recording_store = recording_store  # None: recording is off
        self.closing_recordings: list[ClosingRecording] = []
        self.lookups = Lookups()
        self.outbound: dict[int, Outbound] = {}
        self.dialled_claims: set[str] = set()
        self.draining = False

    # --- bookkeeping ------------------------------------------------------------------

    @property
    def active_calls(self) -> int:
        return sum(1 for s in self.sessions.values() if s.record is not None
                   and not s.record.ended)

    def heartbeat(self) -> MediaNodeHeartbeat:
        # Capacity is in call legs (the contract's unit), so the load counts legs too:
        # callers, the agents they are bridged to, and customers being dialled.
        legs = self.active_calls + len(self.agent_legs) + len(self.outbound)
        return MediaNodeHeartbeat(media_node=self.identity.media_node, site=self.identity.site,
                                  capacity=pjsip.MAX_CALLS, active_calls=legs,
                                  workers=1, draining=self.draining)

    def publish(self, session: Session | None, data: EventModel,
                traceparent: str | None = None) -> None:
        try:
            self.publisher.publish(data, traceparent=traceparent or (
                session.traceparent if session is not None else None))
        except Exception as err:  # a bad event must not drop the call
            where = session.label if session else "worker"
            log.error("%s: %s not published (%s); the call goes on without it", where,
                      type(data).__name__, err)

    # --- pjsua2 events ----------------------------------------------------------------

    def handle(self, event: pjsip.SipEvent) -> None:
        pj_id = event.call.pj_id if isinstance(event, pjsip.Incoming) else event.pj_id
        if not isinstance(event, pjsip.Incoming) and pj_id in self.agent_legs:
            self._agent_event(event)
            return
        if not isinstance(event, pjsip.Incoming) and pj_id in self.outbound:
            self._outbound_event(event)
            return
        session = None if isinstance(event, pjsip.Incoming) else self.sessions.get(pj_id)
        try:
            if isinstance(event, pjsip.Incoming):
                self._incoming(event)
            elif session is None:
                log.debug("event %s for a call no longer held: ignored", event)
            elif isinstance(event, pjsip.Disconnected):
                self._disconnected(session, event)
            elif isinstance(event, pjsip.MediaActive):
                session.media_ready = True
                if session.pending is not None and session.player is None:
                    self._start_prompt(session)
            elif isinstance(event, pjsip.DtmfKey):
                log.info("%s: key %s (%s)", session.label, event.key, event.method)
                if session.bridge is not None and session.bridge.phase == "survey":
                    self._bridge(session, bridge.SurveyKey(event.key))
                elif self._waiting_key(session, event.key):
                    pass
                elif session.bridge is None or session.bridge.phase == "queued":
                    self._feed(session, machine.Digit(event.key))
        except Exception:
            session = self.sessions.get(pj_id)
            label = session.label if session else f"pjsua call {pj_id}"
            log.exception("%s: handling %s failed; hanging the call up", label,
                          type(event).__name__)
            if session is not None:
                self._hang_up(session)

    def _incoming(self, ev: pjsip.Incoming) -> None:
        # Owned from the first line: if anything below fails, ``handle`` hangs it up and
        # the Call object lives until pjsua reports it disconnected.
        session = Session(ev.call, f"call from {ev.src_address}")
        self.sessions[ev.call.pj_id] = session
        sip_id = pjsip.sip_call_id(ev.call)
        session.label = f"call from {ev.src_address} (sip {sip_id})"
        dialled = logic.request_uri_user(ev.request) or ""
        decision = logic.admit(ev.src_address, dialled, self.allow, self.flows,
                               draining=self.draining, active_calls=self.callers,
                               capacity=MAX_CALLERS, retry_after=self.identity.retry_after)
        if isinstance(decision, logic.Reject):
            log.warning("%s: rejected with %d: %s; no events, nothing else to do", session.label,
                        decision.status, decision.reason)
            headers = ({"Retry-After": str(decision.retry_after)}
                       if decision.retry_after is not None else None)
            pjsip.answer(ev.call, decision.status, headers=headers)
            return
        now = self.clock()
        token, withheld = logic.caller_identity(pjsip.remote_uri(ev.call), self.token_key)
        rec = logic.CallRecord(
            call_id=f"c-{uuid.uuid4().hex}", sip_call_id=sip_id, tenant=decision.flow.tenant,
            dialled=dialled, caller_tier=decision.entry.caller_tier, caller_token=token,
            caller_withheld=withheld, offered_at=now)
        session.label = f"call {rec.call_id} (sip {sip_id})"
        session.record, session.flow = rec, decision.flow
        session.traceparent = logic.start_trace(None)
        self.by_call_id[rec.call_id] = session
        log.info("%s: offered on %s for %s from %s", session.label, dialled, rec.tenant,
                 ev.src_address)
        self.publish(session, logic.offered(rec, self.identity.site, self.identity.media_node))
        # The number in clear goes only to the personal identity topic (screen pop; the
        # callbacks service dials it back); every other event carries the token.
        identified = dialling.identified(rec.call_id, rec.tenant,
                                         logic.uri_user(pjsip.remote_uri(ev.call)), token)
        if identified is not None:
            self.publish(session, identified)
        pjsip.answer(ev.call, 200)
        rec.answered_at = self.clock()
        self.publish(session, logic.answered(rec, self.identity.media_node, rec.answered_at))
        state, actions = machine.start(decision.flow, dialled)
        self._apply(session, state, actions)

    def _disconnected(self, session: Session, ev: pjsip.Disconnected) -> None:
        self._stop_prompt(session)
        del self.sessions[session.call.pj_id]
        rec = session.record
        if rec is not None:
            self.by_call_id.pop(rec.call_id, None)
        if rec is None or rec.ended:
            return
        if session.bridge is not None and session.bridge.phase != "queued":
            log.info("%s: caller hung up (%d %s) while %s", session.label, ev.status, ev.reason,
                     session.bridge.phase)
            self._bridge(session, bridge.CallerGone())
            rec.ended = True
            return
        rec.ended = True
        stage = session.state.stage if session.state else "ivr"
        self.publish(session, logic.ended(rec, stage, "caller", self.clock()))
        log.info("%s: caller hung up in the %s (%d %s); call closed", session.label, stage,
                 ev.status, ev.reason)

    # --- timers -----------------------------------------------------------------------

    def tick(self) -> None:
        now = self.clock()
        for ob in list(self.outbound.values()):
            if now - ob.dialled_at >= self.bridging.dial_ring_seconds:
                ob.dialled_at = float("inf")  # cancelled once; its 487 reports no-answer
                log.info("callback %s: no answer within %.0f s; cancelling", ob.cmd.callback_id,
                         self.bridging.dial_ring_seconds)
                self._hang_up_leg(ob.call, "customer did not answer")
        if self.closing_recordings:
            self._seal_recordings(now)
        for session in list(self.sessions.values()):
            if session.record is None or (session.record.ended and session.after_prompt is None):
                continue  # (an ended call may still be saying goodbye)
            try:
                b = session.bridge
                if b is not None and bridging.ring_expired(b, now, self.bridging.ring_seconds):
                    log.info("%s: agent %s did not answer within %.0f s", session.label,
                             b.agent_id, self.bridging.ring_seconds)
                    self._bridge(session, bridge.RingTimeout())
                if b is not None and bridging.survey_expired(b, now):
                    self._bridge(session, bridge.SurveyTimeout())
                if (session.waiting is not None and b is not None and b.phase == "queued"
                        and session.after_prompt is None and session.media_ready):
                    session.waiting, said = waiting.next_speech(session.waiting, now)
                    self._carry_out_waiting(session, said)
                if session.lookup is not None:
                    self._lookup_progress(session, session.lookup, now)
                if session.prompt_ends_at is not None and now >= session.prompt_ends_at:
                    session.prompt_ends_at = None
                    if session.after_prompt is not None:
                        self._bridge_prompt_ended(session, now)
                    else:
                        self._feed(session, machine.PromptEnded())
                if session.input_deadline is not None and now >= session.input_deadline:
                    session.input_deadline = None
                    log.info("%s: no key within the menu timeout", session.label)
                    self._feed(session, machine.NoInput())
            except Exception:
                log.exception("%s: IVR timer failed; hanging the call up", session.label)
                self._hang_up(session)

    def release_calls(self) -> None:
        """Drop every pjsua2 Call before the library goes: one destroyed after
        ``libDestroy`` trips an assertion and aborts the process."""
        self.sessions.clear()
        self.by_call_id.clear()
        self.agent_legs.clear()
        self.outbound.clear()
        gc.collect()  # a Call caught in a reference cycle must go now, not after libDestroy

    def hang_up_all(self, why: str, disposition: str = "node-stopped") -> None:
        for leg, _owner in list(self.agent_legs.values()):
            self._hang_up_leg(leg, why)
        for ob in list(self.outbound.values()):
            self._hang_up_leg(ob.call, why)
        for session in list(self.sessions.values()):
            if session.record is not None and not session.record.ended:
                log.warning("%s: ended by the worker (%s)", session.label, why)
                if session.bridge is not None:
                    session.bridge = replace(session.bridge, phase="ended")
                    self._store_recording(session)
                self.publish(session, logic.ended(session.record, "ivr", "system",
                                                   self.clock(), disposition))
                session.record.ended = True
            self._hang_up(session)

    # --- the IVR ----------------------------------------------------------------------

    def _feed(self, session: Session, event: machine.Input) -> None:
        if session.state is None or session.flow is None:
            return
        state, actions = machine.step(session.flow, session.state, event)
        self._apply(session, state, actions)

    def _apply(self, session: Session, state: machine.IvrState,
               actions: list[machine.Action]) -> None:
        rec, flow = session.record, session.flow
        assert rec is not None and flow is not None
        now = self.clock()
        if state.node.kind == "service" and (session.state is None
                                             or session.state.node != state.node):
            rec.service_started_at = now
        session.state = state
        for action in actions:
            if isinstance(action, machine.Play):
                session.input_deadline = None
                if action.menu_id is not None:
                    self.publish(session, logic.ivr_step(rec, action.menu_id, action.level,
                                                          action.prompt, now))
                self._stop_prompt(session)
                session.pending = action
                if session.media_ready:
                    self._start_prompt(session)
            elif isinstance(action, machine.WaitForKey):
                session.input_deadline = now + action.seconds
            elif isinstance(action, machine.Selected):
                session.input_deadline = None
                self.publish(session, logic.ivr_selection(rec, action, now))
            elif isinstance(action, machine.Enqueue):
                self._stop_prompt(session)
                rec.queue, rec.enqueued_at = action.queue, now
                session.bridge = bridge.Bridge(rec.call_id, rec.tenant, action.queue.id, now,
                                               survey=flow.survey)
                wall = datetime.now(UTC)
                if action.queue.announce_every_seconds or action.queue.callback:
                    period = action.queue.announce_every_seconds
                    session.waiting = wait.Waiting(
                        rec.call_id, rec.tenant, action.queue, rec.caller_token, wall,
                        now + period if period else None)
                self.publish(session, logic.queued(rec, action.queue, wall))
                log.info("%s: queued in %s (skills %s, priority %d, %s caller)",
                         session.label, action.queue.id, ",".join(action.queue.skills),
                         action.queue.priority, rec.caller_tier)
            elif isinstance(action, machine.ServiceDone):
                self.publish(session, logic.service_done(rec, action.service, action.outcome,
                                                          now))
            elif isinstance(action, machine.Lookup):
                session.input_deadline = None
                session.lookup = PendingLookup(
                    action.service,
                    self.lookups.start(action.url, action.field, action.timeout_seconds),
                    now + action.timeout_seconds + 1.0)
                log.info("%s: looking up %s (%d-digit id)", session.label, action.service,
                         len(session.state.digits) if session.state else 0)
            elif isinstance(action, machine.HangUp):
                rec.ended = True
                self.publish(session, logic.ended(rec, state.stage, "system", now))
                log.info("%s: flow ended (%s); hanging up", session.label, action.reason)
                self._hang_up(session)

    def _start_prompt(self, session: Session) -> None:
        play, flow = session.pending, session.flow
        assert play is not None and flow is not None
        session.pending = None
        parts = [self.prompts[flow.tenant][p] for p in (play.prompt, *play.then)]
        paths = [str(p.path) for p in parts]
        player = pjsip.Player(paths[0] if len(paths) == 1 else paths, play.loop)
        session.player = player
        player.start(session.call)
        seconds = sum(p.seconds for p in parts)
        session.prompt_ends_at = None if play.loop else self.clock() + seconds

    def _stop_prompt(self, session: Session) -> None:
        session.pending = None
        session.prompt_ends_at = None
        if session.player is not None:
            player, session.player = session.player, None
            player.stop(session.call if session.media_ready else None)

    def _hang_up(self, session: Session) -> None:
        self._stop_prompt(session)
        try:
            pjsip.hangup(session.call)
        except pjsip.PjError as err:
            log.info("%s: hang-up not sent (%s); the call is already ending", session.label,
                     err.info() if hasattr(err, "info") else err)

    # --- bridging ---------------------------------------------------------------------

    def route(self, decision: RoutingDecision) -> None:
        """A routing decision from Kafka: act on it only if the call is held here."""
        session = self.by_call_id.get(decision.call_id)
        if session is None:
            log.debug("decision %s for call %s: not a call of this worker", decision.decision_id,
                      decision.call_id)
            return
        if session.bridge is None:
            log.warning("%s: decision %s ignored: the call is not queued (still in the IVR)",
                        session.label, decision.decision_id)
            return
        uri = bridging.agent_uri(decision, self.bridging.agent_uri_template)
        if uri is None:
            log.error("%s: decision %s names agent_uri %r, not on the agents' host (%s); "
                      "refused, the caller stays queued", session.label,
                      decision.decision_id, decision.agent_uri,
                      self.bridging.agent_uri_template)
            return
        try:
            self._bridge(session, bridge.Decision(decision.decision_id, decision.queue,
                                                  decision.agent_id, uri))
        except Exception:
            log.exception("%s: acting on decision %s failed; hanging the call up",
                          session.label, decision.decision_id)
            self._hang_up(session)

    def _bridge(self, session: Session, event: bridge.BridgeInput) -> None:
        assert session.bridge is not None
        was = session.bridge.phase
        session.bridge, effects = bridging.step(session.bridge, event, self.clock())
        if was == "talking" and session.bridge.phase != "talking":
            self._store_recording(session)
        if session.bridge.phase == "ended" and session.record is not None:
            session.record.ended = True
        for effect in effects:
            self._carry_out(session, effect)

    def _carry_out(self, session: Session, effect: bridge.Effect) -> None:
        b = session.bridge
        assert b is not None
        if isinstance(effect, bridge.Publish):
            self.publish(session, effect.event)
        elif isinstance(effect, bridge.Ignored):
            log.info("%s: %s; ignored", session.label, effect.why)
        elif isinstance(effect, bridge.DialAgent):
            self._dial_agent(session, effect.uri)
        elif isinstance(effect, bridge.HangUpAgent):
            log.info("%s: hanging up the agent's leg: %s", session.label, effect.why)
            if session.agent is not None:
                leg, session.agent = session.agent, None
                if session.connected:
                    pjsip.disconnect(session.call, leg)
                    session.connected = False
                session.agent_media_ready = False
                self._hang_up_leg(leg, effect.why)
        elif isinstance(effect, bridge.HangUpCaller):
            log.info("%s: hanging the caller up: %s", session.label, effect.why)
            self._hang_up(session)
        elif isinstance(effect, bridge.Connect):
            self._stop_prompt(session)
            session.after_prompt, session.waiting = None, None  # no more announcements
            self._connect(session)
        elif isinstance(effect, bridge.PlayToCaller):
            self._stop_prompt(session)
            session.after_prompt = "hang-up" if effect.hang_up_after else "survey-window"
            session.pending = machine.Play(effect.prompt)
            if session.media_ready:
                self._start_prompt(session)

    def _dial_agent(self, session: Session, uri: str) -> None:
        if self.dialler is None:
            raise RuntimeError("this worker has no dialler: it cannot ring agents")
        try:
            leg = self.dialler(uri)
        except pjsip.DialFailed as err:
            log.error("%s: cannot ring the agent: %s; the caller stays queued", session.label,
                      err)
            self._bridge(session, bridge.AgentGone(0, str(err)))
            return
        session.agent, session.agent_media_ready, session.connected = leg, False, False
        self.agent_legs[leg.pj_id] = (leg, session)
        log.info("%s: ringing agent %s at %s (pjsua call %d)", session.label,
                 session.bridge.agent_id if session.bridge else "?", uri, leg.pj_id)

    def _agent_event(self, event: pjsip.SipEvent) -> None:
        assert not isinstance(event, pjsip.Incoming)
        leg, session = self.agent_legs[event.pj_id]
        current = session.agent is leg
        try:
            if isinstance(event, pjsip.Disconnected):
                del self.agent_legs[event.pj_id]
                if current:
                    session.agent = None
                    session.agent_media_ready = False
                    if session.connected:
                        pjsip.disconnect(session.call, leg)
                        session.connected = False
                    log.info("%s: agent leg ended (%d %s)", session.label, event.status,
                             event.reason)
                    if session.record is not None and not session.record.ended:
                        self._bridge(session, bridge.AgentGone(event.status, event.reason))
            elif not current:
                if isinstance(event, pjsip.Progress) and event.stage == "answered":
                    # Answered after we gave up on it (RONA or the caller left): end it.
                    self._hang_up_leg(leg, "answered too late")
            elif isinstance(event, pjsip.Progress):
                self._bridge(session, bridge.AgentRings() if event.stage == "ringing"
                             else bridge.AgentAnswers())
            elif isinstance(event, pjsip.MediaActive):
                session.agent_media_ready = True
                self._connect(session)
        except Exception:
            log.exception("%s: handling the agent leg's %s failed; hanging both up",
                          session.label, type(event).__name__)
            self._hang_up_leg(leg, "error")
            self._hang_up(session)

    def _connect(self, session: Session) -> None:
        """Caller ↔ agent audio, once the agent answered and both media are up."""
        b = session.bridge
        if (b is None or b.phase != "talking" or session.connected or session.agent is None
                or not session.agent_media_ready or not session.media_ready):
            return
        pjsip.connect(session.call, session.agent)
        session.connected = True
        log.info("%s: caller and agent %s connected", session.label, b.agent_id)
        if self.recording_store is not None:
            self._start_recording(session, self.recording_store)

    def _start_recording(self, session: Session, store: RecordingStore) -> None:
        assert session.agent is not None and session.record is not None
        path = store.spool / f"{session.record.call_id}-{uuid.uuid4().hex[:8]}.wav"
        try:
            session.recorder = pjsip.Recorder(str(path), session.call, session.agent)
            session.recording_path = path
        except pjsip.PjError as err:
            # The call matters more than its recording: talk on, say so loudly.
            log.error("%s: recording NOT started (%s); the call goes on unrecorded",
                      session.label, err.info() if hasattr(err, "info") else err)

    def _store_recording(self, session: Session) -> None:
        """Stop the recorder; the file is sealed by ``tick`` once pjmedia has closed it."""
        recorder, path = session.recorder, session.recording_path
        session.recorder, session.recording_path = None, None
        if recorder is None or path is None:
            return
        rec, b = session.record, session.bridge
        assert rec is not None and b is not None
        recorder.stop(session.call, session.agent)
        self.closing_recordings.append(ClosingRecording(
            session.label, path, rec.call_id, rec.tenant, b.agent_id, f"r-{uuid.uuid4().hex}",
            self.clock() + 5.0, session.traceparent))

    def finish_recordings(self) -> None:
        """At shutdown: seal every stopped recording (a closed file, or what is there)."""
        for closing in list(self.closing_recordings):
            self.closing_recordings.remove(closing)
            self._seal(closing, recordings.wav_closed(closing.path))

    def _seal_recordings(self, now: float) -> None:
        for closing in list(self.closing_recordings):
            closed = recordings.wav_closed(closing.path)
            if not closed and now < closing.deadline:
                continue
            self.closing_recordings.remove(closing)
            self._seal(closing, closed)

    def _seal(self, c: ClosingRecording, closed: bool) -> None:
        assert self.recording_store is not None
        if not closed:
            log.error("%s: recording %s: the recorder did not close %s within 5 s; sealing "
                      "what was written", c.label, c.recording_id, c.path)
        try:
            stored = recordings.store(c.path, self.recording_store, c.tenant, c.recording_id,
                                      datetime.now(UTC))
        except Exception as err:
            log.error("%s: recording %s lost: sealing %s failed (%s); the plaintext spool "
                      "file was removed", c.label, c.recording_id, c.path, err)
            return
        self.publish(None, RecordingStored(
            call_id=c.call_id, tenant=c.tenant, recording_id=c.recording_id,
            agent_id=c.agent_id, duration_seconds=stored.duration_seconds,
            uri=stored.path.resolve().as_uri(), sha256=stored.sha256,
            size_bytes=stored.size_bytes), c.traceparent)
        log.info("%s: recording %s stored (%.1f s, %d bytes) at %s", c.label, c.recording_id,
                 stored.duration_seconds, stored.size_bytes, stored.path)

    def _bridge_prompt_ended(self, session: Session, now: float) -> None:
        after, session.after_prompt = session.after_prompt, None
        self._stop_prompt(session)
        if after == "waiting" and session.waiting is not None:
            session.waiting, effects = waiting.speech_ended(session.waiting, now)
            self._carry_out_waiting(session, effects)
        elif after == "hang-up":
            self._hang_up(session)
        elif session.bridge is not None:
            session.bridge = bridging.question_heard(session.bridge, now)

    def _hang_up_leg(self, leg: pjsip.Call, why: str) -> None:
        try:
            pjsip.hangup(leg)
        except pjsip.PjError as err:
            log.info("agent leg %d: hang-up (%s) not sent (%s); it is already ending", leg.pj_id,
                     why, err.info() if hasattr(err, "info") else err)

    # --- waiting ----------------------------------------------------------------------

    def estimate(self, estimate: WaitEstimate) -> None:
        """A wait estimate from the streams: kept for the next announcement or offer."""
        session = self.by_call_id.get(estimate.call_id)
        if session is None or session.waiting is None:
            return
        session.waiting = waiting.on_estimate(session.waiting, estimate.position,
                                              estimate.estimated_wait_seconds)

    def _waiting_key(self, session: Session, key: str) -> bool:
        if (session.waiting is None or session.bridge is None
                or session.bridge.phase != "queued"):
            return False
        taken = waiting.key(session.waiting, key, self.clock())
        if taken is None:
            return False
        session.waiting, effects = taken
        log.info("%s: the caller accepted the callback offer; ending the call politely",
                 session.label)
        assert session.record is not None
        session.record.ended = True
        session.bridge = replace(session.bridge, phase="ended")
        self._carry_out_waiting(session, effects)
        return True

    def _carry_out_waiting(self, session: Session, effects: list[wait.WaitEffect]) -> None:
        for effect in effects:
            if isinstance(effect, wait.Publish):
                self.publish(session, effect.event)
            elif isinstance(effect, wait.Speak):
                self._stop_prompt(session)
                session.after_prompt = "waiting"
                session.pending = machine.Play(effect.prompts[0], then=effect.prompts[1:])
                if session.media_ready:
                    self._start_prompt(session)
            elif isinstance(effect, wait.ResumeHold):
                hold = session.waiting.queue.hold_prompt if session.waiting else None
                if hold is not None:
                    session.pending = machine.Play(hold, loop=True)
                    if session.media_ready:
                        self._start_prompt(session)
            elif isinstance(effect, wait.EndCall):
                self._hang_up(session)

    # --- self-service lookups ---------------------------------------------------------

    def _lookup_progress(self, session: Session, pending: PendingLookup, now: float) -> None:
        if not pending.future.done():
            if now < pending.deadline:
                return
            pending.future.cancel()
            answer, why = None, "no answer in time"
        else:
            # ``exception()``, not a re-raise from ``result()``: a re-raised exception's
            # traceback would hold this frame (and the Call) in a reference cycle.
            failure = pending.future.exception()
            if failure is None:
                answer, why = pending.future.result(), ""
            else:
                answer, why = None, (str(failure) if isinstance(failure, LookupFailed)
                                     else f"{type(failure).__name__}: {failure}")
        session.lookup = None
        if answer is None:
            log.warning("%s: lookup %s failed: %s; the caller hears the fallback",
                        session.label, pending.service, why)
        else:
            log.info("%s: lookup %s answered %r", session.label, pending.service, answer)
        self._feed(session, machine.LookupDone(answer))

    # --- outbound dialling (callbacks) ------------------------------------------------

    @property
    def callers(self) -> int:
        return self.active_calls + len(self.outbound)

    def dial_callback(self, cmd: DialCallback, sent_at: datetime,
                      traceparent: str | None = None) -> None:
        """A dial command this worker was given (its consumer group's share)."""
        decision = dialling.judge(cmd, sent_at, datetime.now(UTC), self.identity.site,
                                  frozenset(self.dialled_claims),
                                  self.bridging.dial_uri_template)
        label = f"callback {cmd.callback_id} (attempt {cmd.attempt})"
        if isinstance(decision, dialling.Skip):
            log.info("%s: not dialled: %s", label, decision.why)
            return
        self.dialled_claims.add(f"{cmd.claim_id}/{cmd.attempt}")
        trace = logic.start_trace(traceparent)
        flow = next((f for f in self.flows.values() if f.tenant == cmd.tenant), None)
        queue = flow.queues.get(cmd.queue) if flow is not None else None
        if flow is None or queue is None:
            log.error("%s: tenant %s / queue %s is not served by this worker's flows; reported "
                      "failed", label, cmd.tenant, cmd.queue)
            self.publish(None, dialling.failed(cmd, "error"), trace)
            return
        if self.draining or self.callers >= MAX_CALLERS:
            log.warning("%s: no room to dial (%s); reported failed for the callbacks service "
                        "to reschedule", label, "draining" if self.draining else "at capacity")
            self.publish(None, dialling.failed(cmd, "error"), trace)
            return
        if self.dialler is None:
            raise RuntimeError("this worker has no dialler: it cannot dial callbacks")
        outbound_call_id = f"c-{uuid.uuid4().hex}"
        self.publish(None, dialling.dialling(cmd, self.identity.site, self.identity.media_node,
                                             outbound_call_id), trace)
        try:
            call = self.dialler(decision.uri)
        except pjsip.DialFailed as err:
            log.error("%s: %s; reported failed", label, err)
            self.publish(None, dialling.failed(cmd, "error"), trace)
            return
        self.outbound[call.pj_id] = Outbound(call, cmd, outbound_call_id, flow, queue,
                                             self.clock(), trace)
        log.info("%s: dialling the customer as call %s for queue %s", label, outbound_call_id,
                 queue.id)

    def _outbound_event(self, event: pjsip.SipEvent) -> None:
        assert not isinstance(event, pjsip.Incoming)
        ob = self.outbound[event.pj_id]
        label = f"callback {ob.cmd.callback_id} (call {ob.outbound_call_id})"
        try:
            if isinstance(event, pjsip.Disconnected):
                del self.outbound[event.pj_id]
                reason = dialling.failure(event.status)
                log.info("%s: not answered (%d %s): %s", label, event.status, event.reason,
                         reason)
                self.publish(None, dialling.failed(ob.cmd, reason), ob.traceparent)
            elif isinstance(event, pjsip.MediaActive):
                ob.media_ready = True
            elif isinstance(event, pjsip.Progress) and event.stage == "answered":
                del self.outbound[event.pj_id]
                self._callback_answered(ob, label)
        except Exception:
            log.exception("%s: handling %s failed; hanging up", label, type(event).__name__)
            self._hang_up_leg(ob.call, "error")

    def _callback_answered(self, ob: Outbound, label: str) -> None:
        """The customer picked up: from here the call is like an inbound one in its queue,
        waiting with its original enqueue time for routing to reserve an agent."""
        now, wall = self.clock(), datetime.now(UTC)
        cmd = ob.cmd
        ring = now - ob.dialled_at
        self.publish(None, dialling.connected(cmd, ob.outbound_call_id, ring), ob.traceparent)
        session = Session(ob.call, f"call {ob.outbound_call_id} ({label})")
        session.traceparent = ob.traceparent
        rec = logic.CallRecord(
            call_id=ob.outbound_call_id, sip_call_id=pjsip.sip_call_id(ob.call),
            tenant=cmd.tenant, dialled="", caller_tier="standard",
            caller_token=cmd.caller_token, caller_withheld=False, offered_at=now,
            answered_at=now, queue=ob.queue, enqueued_at=now)
        session.record, session.flow, session.media_ready = rec, ob.flow, ob.media_ready
        session.state = machine.IvrState(Target("queue", ob.queue.id))
        waited = max(0.0, (wall - cmd.original_enqueued_at).total_seconds())
        session.bridge = bridge.Bridge(rec.call_id, rec.tenant, ob.queue.id, now - waited,
                                       survey=ob.flow.survey)
        self.sessions[ob.call.pj_id] = session
        self.by_call_id[rec.call_id] = session
        queued = logic.queued(rec, ob.queue, wall)
        self.publish(session, dialling.requeued(queued, cmd))
        log.info("%s: the customer answered after %.1f s; queued in %s with the original "
                 "enqueue time%s", session.label, ring, ob.queue.id,
                 f", reserved for agent {cmd.agent_id}" if cmd.agent_id else "")
        if ob.queue.hold_prompt:
            session.pending = machine.Play(ob.queue.hold_prompt, loop=True)
            if session.media_ready:
                self._start_prompt(session)
