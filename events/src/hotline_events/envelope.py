"""The envelope: CloudEvents 1.0 in Kafka binary mode, JSON body.

Attributes travel as Kafka headers (``ce_id``, ``ce_source``, ``ce_type``,
``ce_specversion``, ``ce_time``, ``ce_subject``, ``content-type`` and W3C
``traceparent``); the value is the JSON of the event's struct. Consumers can filter
and dedupe on headers without parsing bodies.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from hotline_events.errors import ContractError
from hotline_events.models import REGISTRY, EventModel

if TYPE_CHECKING:
    from hotline_events.catalog import Catalog

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
# W3C trace context, version 00: version-traceid-parentid-flags.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SOURCE = re.compile(r"^//hotline/[A-Za-z0-9._/-]+$")

# As confluent-kafka takes and returns them.
Headers = list[tuple[str, str | bytes | None]]
RawHeaders = Mapping[str, str | bytes | None] | Sequence[tuple[str, str | bytes | None]] | None

_encoder = msgspec.json.Encoder()
_decoders: dict[str, msgspec.json.Decoder[EventModel]] = {
    ce_type: msgspec.json.Decoder(cls) for ce_type, cls in REGISTRY.items()
}


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds, e.g. ``2026-05-09T07:35:25.123456Z``."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def source(site: str, component: str, instance: str) -> str:
    """A CloudEvents source, e.g. ``//hotline/site-a/media-node/mn-1``."""
    return f"//hotline/{site}/{component}/{instance}"


@dataclass(frozen=True)
class Event:
    """A CloudEvent: its attributes plus the typed body (``data``)."""

    data: EventModel
    source: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    traceparent: str | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ContractError("ce_time must carry a time zone", event_type=self.type)
        # Normalise to UTC (microseconds) so an event equals itself after a round trip.
        object.__setattr__(self, "time", self.time.astimezone(UTC))
        if not _SOURCE.match(self.source):
            raise ContractError(f"ce_source {self.source!r} is not //hotline/<site>/<component>/"
                                "<instance>", event_type=self.type)
        if self.traceparent is not None and not _TRACEPARENT.match(self.traceparent):
            raise ContractError(f"traceparent {self.traceparent!r} is not W3C trace context",
                                event_type=self.type)

    @property
    def type(self) -> str:
        return self.data.TYPE

    @property
    def subject(self) -> str:
        return self.data.subject

    @property
    def specversion(self) -> str:
        return SPECVERSION


def encode_body(data: EventModel, *, validate: bool = True) -> bytes:
    """The JSON body. With ``validate``, decode it back typed: structs are not checked
    on construction, so this is where a producer's bad value is caught, before it
    leaves the process."""
    body = _encoder.encode(data)
    if validate:
        decode_body(data.TYPE, body)
    return body


def decode_body(ce_type: str, body: bytes) -> EventModel:
    decoder = _decoders.get(ce_type)
    if decoder is None:
        raise ContractError(f"unknown event type {ce_type!r}; known types are listed in "
                            "events/catalog.yaml", event_type=ce_type)
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise ContractError.from_validation(ce_type, str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise ContractError(f"body is not valid JSON: {exc}", event_type=ce_type) from exc


def headers_of(event: Event) -> Headers:
    headers: Headers = [
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_time", format_time(event.time).encode()),
        ("ce_subject", event.subject.encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if event.traceparent is not None:
        headers.append(("traceparent", event.traceparent.encode()))
    return headers


def encode(event: Event, *, catalog: Catalog | None = None,
           validate: bool = True) -> tuple[bytes, bytes, Headers]:
    """``(key, value, headers)`` for a Kafka record; the key comes from the catalog."""
    from hotline_events.catalog import default_catalog  # the catalog imports this module

    key = (catalog or default_catalog()).key_for(event.data)
    return key, encode_body(event.data, validate=validate), headers_of(event)


def header_map(headers: RawHeaders) -> dict[str, str]:
    """Kafka headers → str dict (the last value wins; ``None`` values are dropped)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    return {name: value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            for name, value in pairs if value is not None}


def decode(headers: RawHeaders, value: bytes | None) -> Event:
    """A Kafka record → ``Event``; ``ContractError`` names the type and the field."""
    attrs = header_map(headers)
    ce_type = attrs.get("ce_type")
    missing = [h for h in ("ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time",
                           "ce_subject") if not attrs.get(h)]
    if missing:
        raise ContractError(f"record lacks CloudEvents header(s) {', '.join(missing)}",
                            event_type=ce_type, field=missing[0])
    assert ce_type is not None
    if attrs["ce_specversion"] != SPECVERSION:
        raise ContractError(f"ce_specversion {attrs['ce_specversion']!r} is not {SPECVERSION}",
                            event_type=ce_type, field="ce_specversion")
    content_type = attrs.get("content-type", CONTENT_TYPE)
    if content_type.split(";")[0].strip() != CONTENT_TYPE:
        raise ContractError(f"content-type {content_type!r} is not {CONTENT_TYPE}",
                            event_type=ce_type, field="content-type")
    if not _UUID.match(attrs["ce_id"]):
        raise ContractError(f"ce_id {attrs['ce_id']!r} is not a UUID", event_type=ce_type,
                            field="ce_id")
    try:
        time = datetime.fromisoformat(attrs["ce_time"])
    except ValueError:
        raise ContractError(f"ce_time {attrs['ce_time']!r} is not RFC 3339",
                            event_type=ce_type, field="ce_time") from None
    if time.tzinfo is None:
        raise ContractError(f"ce_time {attrs['ce_time']!r} has no time zone",
                            event_type=ce_type, field="ce_time")
    if value is None:
        raise ContractError("record has no value (a tombstone is not an event)",
                            event_type=ce_type, field="$")
    data = decode_body(ce_type, value)
    if data.subject != attrs["ce_subject"]:
        raise ContractError(f"ce_subject {attrs['ce_subject']!r} differs from the body's "
                            f"{data.SUBJECT} {data.subject!r}", event_type=ce_type,
                            field=f"$.{data.SUBJECT}")
    try:
        return Event(data=data, source=attrs["ce_source"], id=attrs["ce_id"], time=time,
                     traceparent=attrs.get("traceparent"))
    except ContractError as exc:
        raise ContractError(exc.reason, event_type=ce_type,
                            field="ce_source" if "ce_source" in exc.reason else "traceparent"
                            ) from None


# How far ahead of a consumer's clock an event's ce_time may be (sites' clocks are
# NTP-synced). Further ahead, it would hold routing, service levels or a peer's
# liveness at a time that has not come.
MAX_AHEAD_S = 120.0


def refuse_if_ahead(event: Event, now: float, max_ahead_s: float = MAX_AHEAD_S) -> None:
    """``ContractError`` (field ``ce_time``) if ``event`` is dated more than
    ``max_ahead_s`` after ``now``: consumers dead-letter it like any broken record."""
    ahead = event.time.timestamp() - now
    if ahead > max_ahead_s:
        raise ContractError(f"ce_time {format_time(event.time)} is {ahead:.0f} s ahead of "
                            f"this consumer's clock (more than {max_ahead_s:.0f} s)",
                            event_type=event.type, field="ce_time")
