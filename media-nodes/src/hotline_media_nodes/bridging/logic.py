"""The bridge's decision table: ``step(bridge, input, now) -> (bridge, effects)``, pure.

=========  ===============  =========  ==================================================
phase      input            next       effects
=========  ===============  =========  ==================================================
queued     Decision         ringing    OfferedToAgent, dial the agent
queued     anything else    queued     ignored (a late leg event after RONA, a stale key)
ringing    AgentRings       ringing    AgentRinging (once)
ringing    AgentAnswers     talking    CallAnswered (wait since enqueue), connect audio
ringing    AgentGone        queued     AgentNoAnswer (busy/unreachable); caller waits on
ringing    RingTimeout      queued     AgentNoAnswer, cancel the agent's INVITE (RONA)
ringing    CallerGone       ended      CallAbandoned(stage=ringing), cancel the INVITE
ringing    Decision         ringing    ignored: one agent at a time
talking    AgentGone        survey     the survey question (or, without a survey:
                                       CallCompleted(ended_by=agent), hang the caller up)
talking    CallerGone       ended      CallCompleted(ended_by=caller), hang the agent up
survey     SurveyKey 1-5    ended      SurveyAnswered, CallCompleted(agent), thanks, bye
survey     SurveyKey other  survey     ignored (the caller may try again until timeout)
survey     SurveyTimeout    ended      CallCompleted(agent), hang up
survey     CallerGone       ended      CallCompleted(agent)
ended      anything         ended      ignored
=========  ===============  =========  ==================================================

The caller hanging up while only queued is the IVR's abandon (``worker.logic.ended``).
"""

from __future__ import annotations

from dataclasses import replace

from hotline_events.models.calls import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    OfferedToAgent,
    SurveyAnswered,
)
from hotline_events.models.routing import RoutingDecision
from hotline_media_nodes.bridging.models import (
    AgentAnswers,
    AgentGone,
    AgentRings,
    Bridge,
    BridgeInput,
    CallerGone,
    Connect,
    Decision,
    DialAgent,
    Effect,
    HangUpAgent,
    HangUpCaller,
    Ignored,
    PlayToCaller,
    Publish,
    RingTimeout,
    SurveyKey,
    SurveyTimeout,
)

SURVEY_KEYS = frozenset("12345")
DISPOSITION = "agent-handled"  # the agent's own outcome code comes from the desktop


def _sip_host(uri: str) -> str | None:
    """The host of ``sip:user@host[:port][;params]`` (lowercase), None if not SIP."""
    scheme, _, rest = uri.partition(":")
    if scheme.lower() not in ("sip", "sips") or not rest:
        return None
    hostport = rest.rsplit("@", 1)[-1].split(";", 1)[0].split("?", 1)[0]
    host = hostport.rsplit(":", 1)[0] if not hostport.startswith("[") else \
        hostport.split("]", 1)[0] + "]"
    return host.lower() or None


def agent_uri(decision: RoutingDecision, template: str) -> str | None:
    """The agent's phone: ``template`` with ``{agent_id}``, or the decision's own URI if
    it is on the template's host (the site's phones or registrar). Anything else is None:
    whoever can write a decision must not bridge a caller to an address of their own."""
    if decision.agent_uri is None:
        return template.format(agent_id=decision.agent_id)
    own = _sip_host(template.format(agent_id=decision.agent_id))
    return decision.agent_uri if own is not None and _sip_host(decision.agent_uri) == own \
        else None


def _since(start: float | None, now: float) -> float:
    return max(0.0, now - start) if start is not None else 0.0


def _completed(b: Bridge, ended_by: str, now: float) -> CallCompleted:
    talk_end = b.agent_left_at if b.agent_left_at is not None else now
    return CallCompleted(call_id=b.call_id, tenant=b.tenant, queue=b.queue, agent_id=b.agent_id,
                         talk_seconds=_since(b.answered_at, talk_end), hold_seconds=0.0,
                         wrap_up_seconds=0.0, disposition=DISPOSITION,
                         ended_by=ended_by)  # type: ignore[arg-type]


def _back_to_queue(b: Bridge) -> Bridge:
    return replace(b, phase="queued", decision_id=None, agent_id=None, dialled_at=None,
                   ringing_reported=False)


def step(b: Bridge, event: BridgeInput, now: float) -> tuple[Bridge, list[Effect]]:
    if b.phase == "queued":
        if not isinstance(event, Decision):
            return b, [Ignored(f"{type(event).__name__} while only queued")]
        if event.decision_id in b.seen_decisions:
            return b, [Ignored(f"decision {event.decision_id} was already acted on")]
        if event.queue != b.queue:
            return b, [Ignored(f"decision {event.decision_id} is for queue {event.queue}, the "
                               f"call waits in {b.queue}")]
        nxt = replace(b, phase="ringing", decision_id=event.decision_id,
                      agent_id=event.agent_id, dialled_at=now, ringing_reported=False,
                      seen_decisions=b.seen_decisions | {event.decision_id})
        return nxt, [Publish(OfferedToAgent(call_id=b.call_id, tenant=b.tenant, queue=b.queue,
                                            agent_id=event.agent_id,
                                            decision_id=event.decision_id)),
                     DialAgent(event.agent_uri)]

    if b.phase == "ringing":
        assert b.agent_id is not None
        if isinstance(event, AgentRings):
            if b.ringing_reported:
                return b, [Ignored("ringing again (180 after 183)")]
            return replace(b, ringing_reported=True), [Publish(AgentRinging(
                call_id=b.call_id, tenant=b.tenant, queue=b.queue, agent_id=b.agent_id))]
        if isinstance(event, AgentAnswers):
            return replace(b, phase="talking", answered_at=now), [
                Publish(CallAnswered(call_id=b.call_id, tenant=b.tenant, queue=b.queue,
                                     agent_id=b.agent_id,
                                     wait_seconds=_since(b.enqueued_at, now))),
                Connect()]
        if isinstance(event, AgentGone | RingTimeout):
            no_answer = Publish(AgentNoAnswer(call_id=b.call_id, tenant=b.tenant, queue=b.queue,
                                              agent_id=b.agent_id,
                                              ring_seconds=_since(b.dialled_at, now)))
            if isinstance(event, RingTimeout):
                return _back_to_queue(b), [no_answer, HangUpAgent("no answer in time (RONA)")]
            return _back_to_queue(b), [no_answer]
        if isinstance(event, CallerGone):
            return replace(b, phase="ended"), [
                Publish(CallAbandoned(call_id=b.call_id, tenant=b.tenant, stage="ringing",
                                      queue=b.queue, wait_seconds=_since(b.enqueued_at, now))),
                HangUpAgent("the caller hung up while the agent's phone rang")]
        return b, [Ignored(f"{type(event).__name__} while the agent's phone rings")]

    if b.phase == "talking":
        if isinstance(event, AgentGone):
            left = replace(b, agent_left_at=now)
            if b.survey is None:
                return replace(left, phase="ended"), [Publish(_completed(left, "agent", now)),
                                                      HangUpCaller("the agent hung up")]
            return (replace(left, phase="survey",
                            survey_deadline=None),  # set once the question has been heard
                    [PlayToCaller(b.survey.prompt)])
        if isinstance(event, CallerGone):
            return replace(b, phase="ended"), [Publish(_completed(b, "caller", now)),
                                               HangUpAgent("the caller hung up")]
        return b, [Ignored(f"{type(event).__name__} while talking")]

    if b.phase == "survey":
        assert b.survey is not None
        if isinstance(event, SurveyKey):
            if event.key not in SURVEY_KEYS:
                return b, [Ignored(f"key {event.key} is no survey answer (1-5)")]
            return replace(b, phase="ended"), [
                Publish(SurveyAnswered(call_id=b.call_id, tenant=b.tenant,
                                       question_id=b.survey.question_id, score=int(event.key),
                                       agent_id=b.agent_id)),
                Publish(_completed(b, "agent", now)),
                PlayToCaller(b.survey.thanks, hang_up_after=True)]
        if isinstance(event, SurveyTimeout):
            return replace(b, phase="ended"), [Publish(_completed(b, "agent", now)),
                                               HangUpCaller("no survey answer in time")]
        if isinstance(event, CallerGone):
            return replace(b, phase="ended"), [Publish(_completed(b, "agent", now))]
        return b, [Ignored(f"{type(event).__name__} during the survey")]

    return b, [Ignored(f"{type(event).__name__} after the call ended")]


def ring_expired(b: Bridge, now: float, ring_seconds: float) -> bool:
    return b.phase == "ringing" and b.dialled_at is not None and now - b.dialled_at >= ring_seconds


def survey_expired(b: Bridge, now: float) -> bool:
    return b.phase == "survey" and b.survey_deadline is not None and now >= b.survey_deadline


def question_heard(b: Bridge, now: float) -> Bridge:
    """The survey question finished playing: the answer window starts now."""
    if b.phase != "survey" or b.survey is None or b.survey_deadline is not None:
        return b
    return replace(b, survey_deadline=now + b.survey.timeout_seconds)
