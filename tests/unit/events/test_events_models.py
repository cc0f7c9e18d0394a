"""Every example validates; invalid bodies fail in msgspec and JSON Schema alike,
naming the field; the header+body round trip is lossless."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hotline_events import REGISTRY, ContractError, Event, decode, encode
from hotline_events.envelope import (
    MAX_AHEAD_S,
    decode_body,
    format_time,
    header_map,
    headers_of,
    refuse_if_ahead,
)
from hotline_events.examples import example_body, examples, invalid_bodies
from hotline_events.schemas import schema_of

SOURCE = "//hotline/site-a/media-node/mn-1"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
VALIDATORS = {t: Draft202012Validator(schema_of(cls)) for t, cls in REGISTRY.items()}


def test_every_type_has_an_example_and_a_schema_that_is_valid_draft_2020_12() -> None:
    assert set(examples()) == set(REGISTRY)
    for ce_type, cls in REGISTRY.items():
        Draft202012Validator.check_schema(schema_of(cls))
        assert cls.TYPE.endswith(".v1") and ce_type.startswith("hotline.")


@pytest.mark.parametrize("ce_type", sorted(REGISTRY))
def test_example_validates_in_msgspec_and_jsonschema(ce_type: str) -> None:
    body = example_body(ce_type)
    VALIDATORS[ce_type].validate(body)
    assert decode_body(ce_type, json.dumps(body).encode()) == examples()[ce_type]


@pytest.mark.parametrize(("ce_type", "body", "field"), invalid_bodies(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_invalid_body_fails_both_validators_naming_the_field(
        ce_type: str, body: dict[str, Any], field: str) -> None:
    assert not VALIDATORS[ce_type].is_valid(body), "JSON Schema accepted an invalid body"
    with pytest.raises(ContractError) as caught:
        decode_body(ce_type, json.dumps(body).encode())
    assert caught.value.field == field
    assert caught.value.event_type == ce_type
    name = field.rsplit(".", 1)[-1]
    assert ce_type in str(caught.value) and name in str(caught.value)


def test_error_text_names_type_and_field_path() -> None:
    body = {**example_body("hotline.call.answered.v1"), "wait_seconds": "17"}
    with pytest.raises(ContractError, match=r"hotline\.call\.answered\.v1: Expected `float`, "
                                            r"got `str` - at `\$\.wait_seconds`"):
        decode_body("hotline.call.answered.v1", json.dumps(body).encode())


def test_unknown_optional_fields_are_ignored_for_forward_compatibility() -> None:
    body = {**example_body("hotline.call.answered.v1"), "field_from_the_future": 1}
    assert decode_body("hotline.call.answered.v1", json.dumps(body).encode()) == examples()[
        "hotline.call.answered.v1"]


@pytest.mark.parametrize("ce_type", sorted(REGISTRY))
def test_headers_and_body_round_trip_losslessly(ce_type: str) -> None:
    event = Event(data=examples()[ce_type], source=SOURCE, traceparent=TRACEPARENT)
    key, value, headers = encode(event)
    back = decode(headers, value)
    assert back == event
    assert encode(back) == (key, value, headers)


def test_headers_are_cloudevents_binary_mode() -> None:
    event = Event(data=examples()["hotline.call.answered.v1"], source=SOURCE,
                  traceparent=TRACEPARENT)
    key, _value, headers = encode(event)
    attrs = header_map(headers)
    assert key == b"c-7f3a9e2b41d04c2e"
    assert attrs == {
        "ce_id": event.id, "ce_source": SOURCE, "ce_type": "hotline.call.answered.v1",
        "ce_specversion": "1.0", "ce_time": format_time(event.time),
        "ce_subject": "c-7f3a9e2b41d04c2e", "content-type": "application/json",
        "traceparent": TRACEPARENT}
    assert attrs["ce_time"].endswith("Z")


def test_sla_interval_key_includes_the_interval() -> None:
    key, _, _ = encode(Event(data=examples()["hotline.metrics.sla-interval.v1"], source=SOURCE))
    assert key == b"acme-bank/billing/2026-03-02T09:00:00.000000Z"


def _record(ce_type: str = "hotline.call.answered.v1") -> tuple[dict[str, str | bytes | None],
                                                                 bytes]:
    event = Event(data=examples()[ce_type], source=SOURCE)
    _, value, headers = encode(event)
    return dict(headers), value


@pytest.mark.parametrize(("change", "field", "text"), [
    ({"ce_type": None}, "ce_type", "lacks CloudEvents header"),
    ({"ce_type": b"hotline.call.exploded.v1"}, None, "unknown event type"),
    ({"ce_specversion": b"0.3"}, "ce_specversion", "is not 1.0"),
    ({"ce_id": b"42"}, "ce_id", "is not a UUID"),
    ({"ce_time": b"yesterday"}, "ce_time", "is not RFC 3339"),
    ({"ce_time": b"2026-03-02T09:00:00"}, "ce_time", "has no time zone"),
    ({"ce_subject": b"c-other"}, "$.call_id", "differs from the body"),
    ({"content-type": b"application/avro"}, "content-type", "is not application/json"),
    ({"ce_source": b"somewhere"}, "ce_source", "is not //hotline/"),
    ({"traceparent": b"nope"}, "traceparent", "W3C"),
])
def test_bad_headers_are_contract_errors(change: dict[str, bytes | None], field: str | None,
                                         text: str) -> None:
    headers, value = _record()
    headers.update(change)
    with pytest.raises(ContractError, match=text) as caught:
        decode(list(headers.items()), value)
    assert caught.value.field == field


def test_bad_json_and_tombstones_are_contract_errors() -> None:
    headers, _ = _record()
    with pytest.raises(ContractError, match="not valid JSON"):
        decode(list(headers.items()), b"{nope")
    with pytest.raises(ContractError, match="tombstone"):
        decode(list(headers.items()), None)


def test_producer_side_validation_catches_a_bad_struct() -> None:
    # Structs do not check constraints on construction; encode does.
    from hotline_events.models.calls import SurveyAnswered

    bad = SurveyAnswered(call_id="c-1", tenant="acme-bank", question_id="csat", score=9)
    with pytest.raises(ContractError, match=r"at `\$\.score`"):
        encode(Event(data=bad, source=SOURCE))


def test_event_time_is_normalised_to_utc_and_needs_a_zone() -> None:
    from datetime import datetime, timedelta, timezone

    data = examples()["hotline.call.held.v1"]
    local = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert Event(data=data, source=SOURCE, time=local).time.utcoffset() == timedelta(0)
    with pytest.raises(ContractError, match="time zone"):
        Event(data=data, source=SOURCE, time=datetime(2026, 3, 2, 10, 0))


def test_headers_of_has_no_traceparent_when_none_given() -> None:
    event = Event(data=examples()["hotline.call.held.v1"], source=SOURCE)
    assert "traceparent" not in dict(headers_of(event))


def test_an_event_dated_further_ahead_than_the_skew_is_a_contract_error() -> None:
    data = next(iter(examples().values()))
    now = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    for taken in (now - timedelta(days=1), now, now + timedelta(seconds=MAX_AHEAD_S)):
        refuse_if_ahead(Event(data=data, source="//hotline/site-a/test/x", time=taken),
                        now.timestamp())
    with pytest.raises(ContractError) as refused:
        refuse_if_ahead(Event(data=data, source="//hotline/site-a/test/x",
                              time=now + timedelta(hours=1)), now.timestamp())
    assert refused.value.field == "ce_time"
    assert "3600 s ahead" in str(refused.value)
