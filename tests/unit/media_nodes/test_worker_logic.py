"""The worker's pure decisions: admission, SIP text, event bodies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline_events.envelope import encode_body
from hotline_events.pii import caller_token
from hotline_media_nodes.ivr.machine import Selected
from hotline_media_nodes.ivr.models import Flow
from hotline_media_nodes.worker import logic

KEY = b"unit-test-token-key-0123456789"
ALLOW = logic.parse_allow_list(["10.1.0.0/16", "127.0.0.1"])


def decide(acme: Flow, src: str = "10.1.2.3:5060", number: str = "800100", *,
           draining: bool = False, active: int = 0) -> logic.Admit | logic.Reject:
    return logic.admit(src, number, ALLOW, logic.flows_by_number([acme]), draining=draining,
                       active_calls=active, capacity=4, retry_after=20)


def test_admission_order(acme: Flow) -> None:
    admitted = decide(acme)
    assert isinstance(admitted, logic.Admit) and admitted.entry.number == "800100"
    assert decide(acme, "10.2.0.1:5060") == logic.Reject(
        403, "source 10.2.0.1 is not an allow-listed trunk")
    # An unknown source is refused before anything else is revealed.
    assert decide(acme, "10.2.0.1:5060", draining=True).status == 403
    assert decide(acme, "garbage").status == 403
    assert decide(acme, draining=True) == logic.Reject(503, "draining (SIGTERM)", 20)
    assert decide(acme, active=4).status == 486
    assert decide(acme, number="555").status == 404
    assert isinstance(decide(acme, "[::1]:5060"), logic.Reject)  # IPv6 not listed


def test_a_number_in_two_flows_is_refused(acme: Flow) -> None:
    with pytest.raises(ValueError, match="800100 is an entry point of both"):
        logic.flows_by_number([acme, acme])


@pytest.mark.parametrize(("text", "user"), [
    ('"Caller" <sip:+4930123@10.0.0.1:5060>;tag=x', "+4930123"),
    ("sip:800100@127.0.0.1", "800100"),
    ("<sips:alice@example.com;transport=tls>", "alice"),
    ("<sip:example.com>", None),
])
def test_uri_user(text: str, user: str | None) -> None:
    assert logic.uri_user(text) == user


def test_request_uri_user() -> None:
    assert logic.request_uri_user("INVITE sip:800101@10.0.0.2:5080 SIP/2.0\r\nVia: x") == "800101"
    assert logic.request_uri_user("garbage") is None
    assert logic.request_uri_user("SIP/2.0 200 OK\r\n") is None


def test_caller_identity_is_a_token_or_withheld() -> None:
    assert logic.caller_identity("<sip:+49-30-123@x>", KEY) == (caller_token("+4930123", KEY),
                                                              False)
    assert logic.caller_identity("<sip:anonymous@anonymous.invalid>", KEY) == (None, True)
    assert logic.caller_identity("<sip:alice@x>", KEY) == (None, True)


def record(acme: Flow) -> logic.CallRecord:
    return logic.CallRecord(call_id="c-1", sip_call_id="abc@x", tenant=acme.tenant,
                            dialled="800100", caller_tier="vip",
                            caller_token=caller_token("+4930123", KEY), caller_withheld=False,
                            offered_at=100.0, answered_at=100.5)


def test_event_bodies_are_valid_contract_events(acme: Flow) -> None:
    rec = record(acme)
    rec.queue, rec.enqueued_at = acme.queues["disputes"], 110.0
    bodies = [
        logic.offered(rec, "site-a", "mn-1"),
        logic.answered(rec, "mn-1", 100.5),
        logic.ivr_step(rec, "main", 1, "welcome", 101.0),
        logic.ivr_selection(rec, Selected("main", 1, "0", "queue:general", True), 102.0),
        logic.queued(rec, acme.queues["disputes"], datetime(2026, 1, 1, tzinfo=UTC)),
        logic.ended(rec, "queue", "caller", 117.5),
    ]
    for body in bodies:
        encode_body(body)  # validates against the contract
    assert bodies[1].ring_seconds == pytest.approx(0.5)
    assert bodies[3].elapsed_seconds == pytest.approx(1.5)
    queued = bodies[4]
    assert (queued.queue, queued.required_skills, queued.priority,
            queued.caller_tier) == ("disputes", ("billing", "disputes"), 2, "vip")
    abandoned = bodies[5]
    assert (abandoned.stage, abandoned.queue, abandoned.wait_seconds) == (
        "queue", "disputes", 7.5)


def test_end_of_call_depends_on_stage_and_who_hung_up(acme: Flow) -> None:
    rec = record(acme)
    in_ivr = logic.ended(rec, "ivr", "caller", 105.0)
    assert (in_ivr.stage, in_ivr.wait_seconds) == ("ivr", 0.0)
    done = logic.ended(rec, "ivr", "system", 105.0)
    assert (done.ended_by, done.disposition) == ("system", "self-service")
    drained = logic.ended(rec, "queue", "system", 105.0, "node-drained")
    assert drained.disposition == "node-drained"


def test_a_call_starts_a_trace_and_a_callback_continues_its_parents() -> None:
    counter = iter(range(1, 100))

    def rand(n: int) -> bytes:
        return bytes([next(counter)]) * n

    fresh = logic.start_trace(None, rand)
    assert fresh == f"00-{'01' * 16}-{'02' * 8}-01"
    child = logic.start_trace(fresh, rand)
    assert child.split("-")[1] == "01" * 16 and child.split("-")[2] == "03" * 8
    assert logic.start_trace("garbage", rand).split("-")[1] == "04" * 16
