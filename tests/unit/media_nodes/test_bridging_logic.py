"""The bridge's decision table: which events and SIP actions follow each transition."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hotline_events.envelope import encode_body
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
from hotline_media_nodes.bridging import logic
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
from hotline_media_nodes.ivr.models import Survey

SURVEY = Survey("satisfaction", "survey", "thanks", 8.0)
QUEUED = Bridge("c-1", "acme-bank", "cards", enqueued_at=100.0, survey=SURVEY)
DECISION = Decision("d-1", "cards", "agent-7", "sip:agent-7@10.0.0.9")


def run(b: Bridge, *steps: tuple[BridgeInput, float]) -> tuple[Bridge, list[Effect]]:
    effects: list[Effect] = []
    for event, now in steps:
        b, out = logic.step(b, event, now)
        effects = out
    return b, effects


def published(effects: list[Effect]) -> list[object]:
    return [e.event for e in effects if isinstance(e, Publish)]


def others(effects: list[Effect]) -> list[Effect]:
    return [e for e in effects if not isinstance(e, Publish)]


def test_a_decision_offers_the_call_and_rings_the_agent() -> None:
    b, effects = logic.step(QUEUED, DECISION, 104.0)
    assert b.phase == "ringing" and b.agent_id == "agent-7" and b.dialled_at == 104.0
    assert published(effects) == [OfferedToAgent(call_id="c-1", tenant="acme-bank",
                                                 queue="cards", agent_id="agent-7",
                                                 decision_id="d-1")]
    assert others(effects) == [DialAgent("sip:agent-7@10.0.0.9")]
    for event in published(effects):
        encode_body(event)  # type: ignore[arg-type]  # valid against the contract


def test_ringing_then_answered_connects_and_counts_the_wait_from_the_enqueue() -> None:
    b, effects = run(QUEUED, (DECISION, 104.0), (AgentRings(), 104.2))
    assert published(effects) == [AgentRinging(call_id="c-1", tenant="acme-bank",
                                               queue="cards", agent_id="agent-7")]
    b, effects = logic.step(b, AgentRings(), 104.3)  # 183 then 180: reported once
    assert published(effects) == [] and isinstance(effects[0], Ignored)
    b, effects = logic.step(b, AgentAnswers(), 110.0)
    assert b.phase == "talking" and b.answered_at == 110.0
    answered = published(effects)[0]
    assert isinstance(answered, CallAnswered) and answered.wait_seconds == 10.0
    assert others(effects) == [Connect()]


@pytest.mark.parametrize("event, hang_up", [(RingTimeout(), True),
                                            (AgentGone(486, "Busy Here"), False)])
def test_rona_or_a_refusal_reports_no_answer_and_the_caller_stays_queued(
        event: BridgeInput, hang_up: bool) -> None:
    b, effects = run(QUEUED, (DECISION, 104.0), (event, 119.0))
    assert b.phase == "queued" and b.agent_id is None
    assert published(effects) == [AgentNoAnswer(call_id="c-1", tenant="acme-bank",
                                                queue="cards", agent_id="agent-7",
                                                ring_seconds=15.0)]
    assert (HangUpAgent("no answer in time (RONA)") in effects) is hang_up
    # The same decision replayed is not acted on again; a new one is.
    _, again = logic.step(b, DECISION, 120.0)
    assert isinstance(again[0], Ignored) and "already acted on" in again[0].why
    b, effects = logic.step(b, replace(DECISION, decision_id="d-2", agent_id="agent-8"), 121.0)
    assert b.phase == "ringing" and b.agent_id == "agent-8"


def test_decisions_that_do_not_fit_are_ignored() -> None:
    _, effects = logic.step(QUEUED, replace(DECISION, queue="loans"), 101.0)
    assert isinstance(effects[0], Ignored) and "queue loans" in effects[0].why
    ringing, _ = logic.step(QUEUED, DECISION, 101.0)
    _, effects = logic.step(ringing, replace(DECISION, decision_id="d-9"), 102.0)
    assert isinstance(effects[0], Ignored)  # one agent at a time


def test_caller_hangs_up_while_the_agent_rings() -> None:
    b, effects = run(QUEUED, (DECISION, 104.0), (AgentRings(), 104.5), (CallerGone(), 107.0))
    assert b.phase == "ended"
    assert published(effects) == [CallAbandoned(call_id="c-1", tenant="acme-bank",
                                                stage="ringing", queue="cards",
                                                wait_seconds=7.0)]
    assert isinstance(others(effects)[0], HangUpAgent)  # the INVITE is cancelled


def test_caller_hangs_up_while_talking() -> None:
    _, effects = run(QUEUED, (DECISION, 104.0), (AgentAnswers(), 105.0), (CallerGone(), 125.0))
    done = published(effects)[0]
    assert isinstance(done, CallCompleted)
    assert (done.ended_by, done.agent_id, done.talk_seconds) == ("caller", "agent-7", 20.0)
    assert isinstance(others(effects)[0], HangUpAgent)


def test_agent_hangs_up_then_the_survey_is_answered() -> None:
    b, effects = run(QUEUED, (DECISION, 104.0), (AgentAnswers(), 105.0),
                     (AgentGone(200, "Normal call clearing"), 135.0))
    assert b.phase == "survey" and effects == [PlayToCaller("survey")]
    assert not logic.survey_expired(b, 1000.0)  # the window opens once the question is heard
    b = logic.question_heard(b, 138.0)
    assert b.survey_deadline == 146.0
    b, effects = logic.step(b, SurveyKey("9"), 139.0)
    assert isinstance(effects[0], Ignored) and b.phase == "survey"
    b, effects = logic.step(b, SurveyKey("4"), 140.0)
    survey, completed = published(effects)
    assert survey == SurveyAnswered(call_id="c-1", tenant="acme-bank",
                                    question_id="satisfaction", score=4, agent_id="agent-7")
    assert isinstance(completed, CallCompleted)
    assert (completed.ended_by, completed.talk_seconds) == ("agent", 30.0)  # not the survey
    assert others(effects) == [PlayToCaller("thanks", hang_up_after=True)]
    assert b.phase == "ended"


def test_survey_not_answered_in_time_or_without_a_survey() -> None:
    b, _ = run(QUEUED, (DECISION, 104.0), (AgentAnswers(), 105.0), (AgentGone(200, ""), 115.0))
    b = logic.question_heard(b, 118.0)
    assert logic.survey_expired(b, 126.0)
    b, effects = logic.step(b, SurveyTimeout(), 126.0)
    assert isinstance(published(effects)[0], CallCompleted) and isinstance(effects[1],
                                                                           HangUpCaller)
    plain = replace(QUEUED, survey=None)
    b, effects = run(plain, (DECISION, 104.0), (AgentAnswers(), 105.0),
                     (AgentGone(200, ""), 115.0))
    done = published(effects)[0]
    assert isinstance(done, CallCompleted) and done.ended_by == "agent"
    assert others(effects) == [HangUpCaller("the agent hung up")]


def test_events_after_the_end_change_nothing() -> None:
    b, _ = run(QUEUED, (DECISION, 104.0), (CallerGone(), 105.0))
    for event in (AgentAnswers(), AgentGone(487, ""), SurveyKey("3"), DECISION):
        after, effects = logic.step(b, event, 106.0)
        assert after == b and isinstance(effects[0], Ignored)


def test_ring_timeout_is_measured_from_the_dial() -> None:
    b, _ = logic.step(QUEUED, DECISION, 104.0)
    assert not logic.ring_expired(b, 118.9, 15.0)
    assert logic.ring_expired(b, 119.0, 15.0)
    assert not logic.ring_expired(QUEUED, 1e9, 15.0)


def test_the_agent_uri_comes_from_the_template_or_the_decision_on_its_host() -> None:
    base = RoutingDecision(decision_id="d-1", call_id="c-1", tenant="acme-bank", queue="cards",
                           agent_id="agent-7", site="site-a", rule="longest-idle",
                           waited_seconds=3.0, candidates=2)
    assert logic.agent_uri(base, "sip:{agent_id}@pbx.local") == "sip:agent-7@pbx.local"

    def decided(uri: str) -> RoutingDecision:
        return RoutingDecision(**{**{f: getattr(base, f) for f in base.__struct_fields__},
                                  "agent_uri": uri})

    template = "sip:{agent_id}@PBX.local:5060"
    for allowed in ("sip:7@pbx.local:5070", "sip:7@pbx.local", "sips:7@pbx.local;transport=tls"):
        assert logic.agent_uri(decided(allowed), template) == allowed
    # A forged decision must not bridge the caller to someone else's address.
    for refused in ("sip:7@attacker.invalid", "sip:pbx.local@attacker.invalid:5060",
                    "tel:+4930123456", "http://pbx.local/7", "sip:"):
        assert logic.agent_uri(decided(refused), template) is None, refused
