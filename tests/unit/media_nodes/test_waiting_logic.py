"""While waiting: what is announced when, the callback offer, and what they publish."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hotline_events.envelope import encode_body
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import CallbackOffered, CallCompleted, PositionAnnounced
from hotline_media_nodes.ivr.announce import announcement_prompts, fragments, minutes
from hotline_media_nodes.ivr.models import CallbackOffer, QueueTarget
from hotline_media_nodes.waiting import logic
from hotline_media_nodes.waiting.models import EndCall, Publish, ResumeHold, Speak, Waiting

TOKEN = "ct1_" + "ab" * 32
ENQUEUED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
OFFER = CallbackOffer(120, "offer", "confirmed", 3600)
QUEUE = QueueTarget("cards", ("cards",), 2, None, "hold", 30, OFFER)
WAITING = Waiting("c-1", "acme-bank", QUEUE, TOKEN, ENQUEUED, next_announcement_at=130.0)


def events(effects: list[object]) -> list[object]:
    return [e.event for e in effects if isinstance(e, Publish)]


def test_fragments_say_position_and_rounded_minutes() -> None:
    assert fragments(3, 100) == ["sys-position", "sys-n-3", "sys-wait", "sys-min-2"]
    assert fragments(1, 20) == ["sys-position", "sys-n-1", "sys-wait", "sys-wait-short"]
    assert fragments(40, 5000) == ["sys-position-many", "sys-wait", "sys-wait-long"]
    assert (minutes(44), minutes(45), minutes(89), minutes(91)) == (0, 1, 1, 2)
    prompts = announcement_prompts()
    for p in fragments(10, 900) + fragments(11, 30):
        assert p in prompts


def test_nothing_is_said_without_an_estimate_and_announcements_follow_the_period() -> None:
    assert logic.next_speech(WAITING, 1000.0) == (WAITING, [])
    w = logic.on_estimate(WAITING, 3, 100.0)
    assert logic.next_speech(w, 129.0) == (w, [])  # not due yet
    w, effects = logic.next_speech(w, 130.0)
    assert events(effects) == [PositionAnnounced(call_id="c-1", tenant="acme-bank",
                                                 queue="cards", position=3,
                                                 estimated_wait_seconds=100.0)]
    assert effects[-1] == Speak(("sys-position", "sys-n-3", "sys-wait", "sys-min-2"),
                                "announcement")
    assert logic.next_speech(w, 131.0) == (w, [])  # still speaking
    w, effects = logic.speech_ended(w, 134.0)
    assert effects == [ResumeHold()] and w.next_announcement_at == 160.0
    assert logic.next_speech(w, 150.0) == (w, [])


def test_a_long_wait_offers_a_callback_once_and_1_accepts_it() -> None:
    w = logic.on_estimate(WAITING, 5, 600.0)
    w, effects = logic.next_speech(w, 101.0)
    offered = events(effects)[0]
    assert isinstance(offered, CallbackOffered) and offered.promised_within_seconds == 3600
    assert effects[-1] == Speak(("offer",), "offer")
    assert logic.key(w, "2", 102.0) is None  # not the offer key
    w, effects = logic.speech_ended(w, 104.0)
    assert effects == [ResumeHold()] and w.offer_open_until == 114.0
    _, again = logic.next_speech(w, 200.0)
    assert not any(isinstance(e, Publish) and isinstance(e.event, CallbackOffered)
                   for e in again)  # offered once
    assert logic.key(w, "1", 114.5) is None  # the window closed
    taken = logic.key(w, "1", 110.0, callback_id="cb-1")
    assert taken is not None
    w, effects = taken
    request, completed = events(effects)
    assert request == CallbackRequested(callback_id="cb-1", call_id="c-1", tenant="acme-bank",
                                        queue="cards", reason="caller-request",
                                        caller_token=TOKEN,
                                        original_enqueued_at=ENQUEUED, priority=2)
    assert isinstance(completed, CallCompleted)
    assert (completed.disposition, completed.ended_by) == ("callback-requested", "system")
    assert effects[-1] == Speak(("confirmed",), "confirm") and w.done
    for event in (request, completed, offered):
        encode_body(event)  # type: ignore[arg-type]
    w, effects = logic.speech_ended(w, 113.0)
    assert effects == [EndCall()]


def test_no_callback_offer_for_a_withheld_number_or_a_queue_without_one() -> None:
    withheld = logic.on_estimate(replace(WAITING, caller_token=None), 5, 600.0)
    _, effects = logic.next_speech(withheld, 1000.0)
    assert not any(isinstance(e, Publish) and isinstance(e.event, CallbackOffered)
                   for e in effects)
    plain = logic.on_estimate(replace(WAITING, queue=replace(QUEUE, callback=None)), 5, 600.0)
    _, effects = logic.next_speech(plain, 1000.0)
    assert isinstance(events(effects)[0], PositionAnnounced)
    assert logic.key(plain, "1", 1000.0) is None
