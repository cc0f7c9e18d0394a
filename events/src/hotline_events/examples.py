"""One realistic example per event type (docs, tests, the benchmark), and invalid
bodies that every validator must reject."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from hotline_events.models import REGISTRY, EventModel
from hotline_events.models.agents import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentNotReady,
    AgentReady,
    SkillLevel,
    WrapUpEnded,
    WrapUpStarted,
)
from hotline_events.models.callbacks import (
    CallbackCancelled,
    CallbackConnected,
    CallbackDialling,
    CallbackFailed,
    CallbackPreviewAnswered,
    CallbackPreviewOffered,
    CallbackRefused,
    CallbackRequested,
    CallbackScheduled,
    DialCallback,
)
from hotline_events.models.calls import (
    AgentNoAnswer,
    AgentRinging,
    CallAbandoned,
    CallAnswered,
    CallAnsweredByIvr,
    CallbackOffered,
    CallCompleted,
    CallHeld,
    CallOffered,
    CallQueued,
    CallResumed,
    CallTransferred,
    IvrSelection,
    IvrStep,
    OfferedToAgent,
    PositionAnnounced,
    RecordingStored,
    SelfServiceCompleted,
    SurveyAnswered,
)
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.metrics import (
    CallbackInterval,
    QueueStatistics,
    SlaInterval,
    WaitEstimate,
)
from hotline_events.models.routing import RoutingDecision
from hotline_events.models.sites import (
    MediaNodeHeartbeat,
    SiteAdoptionRequested,
    SiteFailback,
    SiteFailover,
    SiteHeartbeat,
    SiteShare,
    SiteTrafficSplit,
)

T0 = datetime(2026, 3, 2, 9, 14, 5, 250000, tzinfo=UTC)
CALL = "c-7f3a9e2b41d04c2e"
TENANT = "acme-bank"
# A well-formed token (examples need no key; real ones come from pii.caller_token).
TOKEN = "ct1_" + "5" * 64
CB = "cb-1c9e"
AGENT = "a-1042"


def examples() -> dict[str, EventModel]:
    """ce_type → example body, one for every registered type."""
    items: list[EventModel] = [
        CallOffered(call_id=CALL, tenant=TENANT, site="site-a", media_node="mn-1",
                    dialled_number="+498001234567", caller_token=TOKEN),
        CallAnsweredByIvr(call_id=CALL, tenant=TENANT, media_node="mn-1", ring_seconds=0.4),
        IvrStep(call_id=CALL, tenant=TENANT, menu_id="main", level=1, prompt_id="welcome-de",
                elapsed_seconds=0.0),
        IvrSelection(call_id=CALL, tenant=TENANT, menu_id="main", level=1, option="2",
                     target="queue:billing", elapsed_seconds=7.9),
        SelfServiceCompleted(call_id=CALL, tenant=TENANT, service="balance",
                             outcome="transferred-to-agent", duration_seconds=21.5),
        CallQueued(call_id=CALL, tenant=TENANT, queue="billing", required_skills=("billing",),
                   language="de", priority=0, caller_tier="vip", enqueued_at=T0),
        PositionAnnounced(call_id=CALL, tenant=TENANT, queue="billing", position=3,
                          estimated_wait_seconds=118.0),
        CallbackOffered(call_id=CALL, tenant=TENANT, queue="billing",
                        estimated_wait_seconds=420.0, promised_within_seconds=3600.0),
        OfferedToAgent(call_id=CALL, tenant=TENANT, queue="billing", agent_id=AGENT,
                       decision_id="d-88"),
        AgentRinging(call_id=CALL, tenant=TENANT, queue="billing", agent_id=AGENT),
        CallAnswered(call_id=CALL, tenant=TENANT, queue="billing", agent_id=AGENT,
                     wait_seconds=17.25),
        AgentNoAnswer(call_id=CALL, tenant=TENANT, queue="billing", agent_id="a-1043",
                      ring_seconds=12.0),
        CallHeld(call_id=CALL, tenant=TENANT, agent_id=AGENT),
        CallResumed(call_id=CALL, tenant=TENANT, agent_id=AGENT, hold_seconds=34.0),
        CallTransferred(call_id=CALL, tenant=TENANT, from_agent_id=AGENT, to_queue="fraud",
                        kind="blind"),
        CallAbandoned(call_id=CALL, tenant=TENANT, stage="queue", queue="billing",
                      wait_seconds=46.5),
        CallCompleted(call_id=CALL, tenant=TENANT, queue="billing", agent_id=AGENT,
                      talk_seconds=312.0, hold_seconds=34.0, wrap_up_seconds=45.0,
                      disposition="resolved", ended_by="caller"),
        RecordingStored(call_id=CALL, tenant=TENANT, recording_id="r-" + CALL, agent_id=AGENT,
                        duration_seconds=346.0, uri=f"cassandra://recordings/{CALL}",
                        sha256="0" * 64, size_bytes=2_768_000),
        SurveyAnswered(call_id=CALL, tenant=TENANT, question_id="csat", score=5,
                       agent_id=AGENT),
        CallerIdentified(call_id=CALL, tenant=TENANT, caller_number="+4915112345678",
                         caller_name="Erika Mustermann", caller_token=TOKEN),
        CallbackRequested(callback_id=CB, call_id=CALL, tenant=TENANT, queue="billing",
                          reason="caller-request", caller_token=TOKEN, original_enqueued_at=T0),
        CallbackScheduled(callback_id=CB, call_id=CALL, tenant=TENANT, queue="billing",
                          due_at=datetime(2026, 3, 2, 9, 40, tzinfo=UTC), attempt=1),
        CallbackDialling(callback_id=CB, call_id=CALL, tenant=TENANT, site="site-a",
                         media_node="mn-2", outbound_call_id="c-out-51", attempt=1),
        CallbackConnected(callback_id=CB, call_id=CALL, tenant=TENANT,
                          outbound_call_id="c-out-51", attempt=1, ring_seconds=8.0),
        CallbackFailed(callback_id=CB, call_id=CALL, tenant=TENANT, attempt=1,
                       reason="no-answer", will_retry=True),
        CallbackCancelled(callback_id=CB, call_id=CALL, tenant=TENANT,
                          reason="caller-called-again"),
        DialCallback(callback_id=CB, call_id=CALL, tenant=TENANT, queue="billing",
                     site="site-a", caller_number="+4915112345678", caller_token=TOKEN,
                     attempt=1, claim_id="claim-42", original_enqueued_at=T0),
        CallbackPreviewOffered(callback_id=CB, call_id=CALL, tenant=TENANT, queue="billing",
                               agent_id=AGENT, attempt=1, dial_by=T0),
        CallbackPreviewAnswered(callback_id=CB, call_id=CALL, tenant=TENANT, agent_id=AGENT,
                                attempt=1, decision="accepted"),
        CallbackRefused(callback_id=CB, call_id=CALL, tenant=TENANT, queue="billing",
                        reason="premium-rate", detail="premium-rate number"),
        AgentLoggedIn(agent_id=AGENT, tenant=TENANT, site="site-a",
                      skills=(SkillLevel(skill="billing", proficiency=4),
                              SkillLevel(skill="fraud", proficiency=2)),
                      languages=("de", "en"), senior=True),
        AgentLoggedOut(agent_id=AGENT, tenant=TENANT, staffed_seconds=28_800.0),
        AgentReady(agent_id=AGENT, tenant=TENANT),
        AgentNotReady(agent_id=AGENT, tenant=TENANT, reason="break"),
        WrapUpStarted(agent_id=AGENT, tenant=TENANT, call_id=CALL),
        WrapUpEnded(agent_id=AGENT, tenant=TENANT, call_id=CALL, wrap_up_seconds=45.0),
        RoutingDecision(decision_id="d-88", call_id=CALL, tenant=TENANT, queue="billing",
                        agent_id=AGENT, site="site-a", rule="vip-senior",
                        matched_skills=("billing",), waited_seconds=14.0, candidates=3),
        QueueStatistics(tenant=TENANT, queue="billing", site="site-a", as_of=T0, waiting=7,
                        longest_wait_seconds=96.0, agents_staffed=14, agents_ready=2,
                        agents_busy=10, agents_not_ready=2, estimated_wait_seconds=65.0),
        WaitEstimate(call_id=CALL, tenant=TENANT, queue="billing", as_of=T0, position=3,
                     estimated_wait_seconds=118.0, method="agents-free-times"),
        # DESIGN.md's ICMI fixture: 1000 answered, 60 abandoned, 860 within 20 s, 20
        # abandoned within 20 s, 10 within 5 s → 81.9 % with abandons against.
        SlaInterval(tenant=TENANT, queue="billing", site="site-a",
                    interval_start=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), interval_seconds=900,
                    final=True, offered=1060, answered=1000, answered_within_threshold=860,
                    abandoned=60, abandoned_within_threshold=20, short_abandons=10,
                    service_level=860 / 1050, asa_seconds=14.2, abandon_rate=50 / 1050,
                    aht_seconds=391.0, occupancy=0.87, threshold_seconds=20.0, target=0.8,
                    abandon_treatment="against"),
        CallbackInterval(tenant=TENANT, queue="billing", site="site-a",
                         interval_start=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
                         interval_seconds=900, final=True, requested=40, dialled=52,
                         connected=31, failed=21, cancelled=6, recovered_abandons=4,
                         success_rate=31 / 52, mean_seconds_to_connect=1260.0),
        SiteHeartbeat(site="site-a", sequence=1234, state="active", serving=("site-a",),
                      traffic_share=0.5, fencing_token=7),
        SiteFailover(site="site-b", taken_over_by="site-a", fencing_token=8,
                     votes=("site-a", "witness"), reason="site-b heartbeats missing for 6 s",
                     callbacks_adopted=12),
        SiteFailback(site="site-b", handed_back_by="site-a", fencing_token=9,
                     healthy_for_seconds=300.0),
        SiteTrafficSplit(site="site-a", shares=(SiteShare(site="site-a", share=1.0),
                                                SiteShare(site="site-b", share=0.0)),
                         reason="failover", fencing_token=8, destinations=4),
        SiteAdoptionRequested(site="site-b", adopted_by="site-a", fencing_token=8,
                              scope=("callbacks", "sla-intervals")),
        MediaNodeHeartbeat(media_node="mn-1", site="site-a", capacity=16, active_calls=11,
                           workers=4, draining=False),
    ]
    out = {item.TYPE: item for item in items}
    missing = set(REGISTRY) - set(out)
    assert not missing, f"no example for {sorted(missing)}"
    return out


def example_body(ce_type: str) -> dict[str, Any]:
    """The example as plain JSON data."""
    body: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(examples()[ce_type]))
    return body


def invalid_bodies() -> list[tuple[str, dict[str, Any], str]]:
    """``(ce_type, body, field)``: bodies both msgspec and JSON Schema must reject,
    and the JSON path of the field the error must name."""
    cases: list[tuple[str, dict[str, Any], str]] = []
    for ce_type, cls in REGISTRY.items():
        body = example_body(ce_type)
        for info in msgspec.structs.fields(cls):
            if info.required:
                cases.append((ce_type, {k: v for k, v in body.items() if k != info.name},
                              f"$.{info.name}"))
        first = cls.__struct_fields__[0]
        cases.append((ce_type, {**body, first: 12345}, f"$.{first}"))

    def change(ce_type: str, field: str, value: Any) -> None:
        cases.append((ce_type, {**example_body(ce_type), field: value}, f"$.{field}"))

    change("hotline.call.answered.v1", "wait_seconds", "17")
    change("hotline.call.answered.v1", "wait_seconds", -1.0)
    change("hotline.call.survey-answered.v1", "score", 6)
    change("hotline.call.survey-answered.v1", "score", 0)
    change("hotline.call.queued.v1", "caller_tier", "gold")
    change("hotline.call.queued.v1", "tenant", "ACME Bank")
    change("hotline.call.queued.v1", "required_skills", "billing")
    change("hotline.call.abandoned.v1", "stage", "agent")
    change("hotline.call.offered.v1", "caller_token", "+4915112345678")
    change("hotline.call.caller-identity.v1", "caller_number", "call me")
    change("hotline.metrics.sla-interval.v1", "service_level", 1.2)
    change("hotline.metrics.sla-interval.v1", "abandon_treatment", "counted")
    change("hotline.media.heartbeat.v1", "capacity", -1)
    change("hotline.site.failover.v1", "votes", ["site-a"])
    bad_skills = example_body("hotline.agent.logged-in.v1")
    bad_skills["skills"] = [{"skill": "billing", "proficiency": 9}]
    cases.append(("hotline.agent.logged-in.v1", bad_skills, "$.skills[0].proficiency"))
    return cases

