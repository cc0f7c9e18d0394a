"""Callback dialling: which commands are dialled, and what a SIP outcome reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from hotline_events.envelope import encode_body
from hotline_events.models.callbacks import DialCallback
from hotline_events.models.calls import CallQueued
from hotline_media_nodes.dialling import logic

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CMD = DialCallback(callback_id="cb-1", call_id="c-1", tenant="acme-bank", queue="cards",
                   site="site-a", caller_number="+4930123456", caller_token="ct1_" + "a" * 64,
                   attempt=2, claim_id="claim-9", original_enqueued_at=NOW - timedelta(hours=1))
TEMPLATE = "sip:{number}@trunk.example:5060"


def test_a_fresh_command_for_this_site_is_dialled_through_the_trunk() -> None:
    assert logic.judge(CMD, NOW, NOW, "site-a", frozenset(), TEMPLATE) == logic.Dial(
        "sip:+4930123456@trunk.example:5060")


@pytest.mark.parametrize(("site", "seen", "sent", "says"), [
    ("site-b", frozenset(), NOW, "for site site-a"),
    ("site-a", frozenset({"claim-9/2"}), NOW, "already dialled"),
    ("site-a", frozenset(), NOW - timedelta(minutes=5), "issued 300 s ago"),
])
def test_other_sites_replays_and_stale_commands_are_skipped(
        site: str, seen: frozenset[str], sent: datetime, says: str) -> None:
    decision = logic.judge(CMD, sent, NOW, site, seen, TEMPLATE)
    assert isinstance(decision, logic.Skip) and says in decision.why
    # The next attempt of the same claim is a new dial.
    assert isinstance(logic.judge(CMD, NOW, NOW, "site-a", frozenset({"claim-9/1"}), TEMPLATE),
                      logic.Dial)


@pytest.mark.parametrize(("status", "reason"), [
    (486, "busy"), (600, "busy"), (404, "invalid-number"), (484, "invalid-number"),
    (403, "rejected"), (603, "rejected"), (408, "no-answer"), (480, "no-answer"),
    (487, "no-answer"), (500, "error"), (503, "error"), (0, "error")])
def test_sip_outcomes(status: int, reason: str) -> None:
    assert logic.failure(status) == reason


def test_event_bodies_are_valid() -> None:
    for event in (logic.dialling(CMD, "site-a", "mn-1", "c-2"),
                  logic.connected(CMD, "c-2", 4.5), logic.failed(CMD, "busy")):
        encode_body(event)
        assert (event.callback_id, event.call_id, event.attempt) == ("cb-1", "c-1", 2)
    assert logic.failed(CMD, "busy").will_retry is True  # not the final attempt


def test_will_retry_follows_the_commands_final_attempt() -> None:
    assert logic.failed(CMD, "no-answer").will_retry is True
    last = msgspec.structs.replace(CMD, final_attempt=True)
    assert logic.failed(last, "no-answer").will_retry is False


@pytest.mark.parametrize(("user", "token", "number"), [
    ("+4930123456", "ct1_" + "b" * 64, "+4930123456"),
    ("004930123456", "ct1_" + "b" * 64, "+4930123456"),
    ("anonymous", None, None),
    (None, "ct1_" + "b" * 64, None),
    ("alice", "ct1_" + "b" * 64, None),
])
def test_the_callers_number_goes_to_the_identity_topic_unless_withheld(
        user: str | None, token: str | None, number: str | None) -> None:
    found = logic.identified("c-1", "acme-bank", user, token)
    if number is None:
        assert found is None
    else:
        assert found is not None and (found.caller_number, found.caller_token) == (number, token)
        encode_body(found)


def test_an_answered_callback_is_queued_with_its_place_in_line_and_no_reserved_agent() -> None:
    fresh = CallQueued(call_id="out-1", tenant="acme-bank", queue="cards", enqueued_at=NOW)
    queued = logic.requeued(fresh, CMD)
    assert (queued.original_enqueued_at, queued.callback_id) == (CMD.original_enqueued_at,
                                                                  "cb-1")
    assert queued.reserved_agent_id is None and queued.enqueued_at == NOW


def test_a_previewed_callback_is_queued_for_the_agent_who_accepted_it() -> None:
    fresh = CallQueued(call_id="out-1", tenant="acme-bank", queue="cards", enqueued_at=NOW)
    queued = logic.requeued(fresh, msgspec.structs.replace(CMD, agent_id="a-17"))
    assert queued.reserved_agent_id == "a-17" and queued.callback_id == "cb-1"
