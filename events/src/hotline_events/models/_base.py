"""The base of every event body, and the field types the domains share.

Structs are the single source of truth: the JSON Schemas in ``events/schemas`` are
generated from them. Constraints live in ``msgspec.Meta`` so one typed decode checks
types, required fields and ranges, and its errors name the field path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

import msgspec

# A field carrying personal data (a caller's number or name) is marked in its schema
# so tooling can enforce that its type only travels on topics classed `personal`.
PERSONAL = {"x-pii": "personal"}
# A keyed hash that stands in for a caller across topics; not personal on its own,
# but it is a join key to personal data, so `none` topics must not carry it either.
TOKENISED = {"x-pii": "tokenised"}

# Tenant, queue and skill names; configuration (tenant files, queue resources) checks
# its names against the same pattern.
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
_SLUG = NAME_PATTERN

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
CallId = Annotated[str, msgspec.Meta(
    min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$",
    description="The call's id, stable for the whole call life (IVR, queue, agent, "
                "wrap-up) and across sites; the key of cc.call.events.")]
Tenant = Annotated[str, msgspec.Meta(
    pattern=_SLUG,
    description="The routing domain (a hotline/customer of the platform); routing "
                "input is ordered per tenant.")]
Queue = Annotated[str, msgspec.Meta(pattern=_SLUG, description="A skill queue's name.")]
AgentId = Annotated[str, msgspec.Meta(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$",
    description="The agent's id (an employee number, not a name).")]
Skill = Annotated[str, msgspec.Meta(pattern=_SLUG, description="A skill tag, e.g. `billing`.")]
Language = Annotated[str, msgspec.Meta(
    pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$", description="A language tag, e.g. `en` or `zh-CN`.")]
Site = Annotated[str, msgspec.Meta(
    pattern=r"^[a-z0-9][a-z0-9-]{0,30}$", description="A site's name, e.g. `site-a`.")]
MediaNode = Annotated[str, msgspec.Meta(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$",
    description="The media node (pod) that handled the call.")]
Seconds = Annotated[float, msgspec.Meta(ge=0, description="A duration in seconds.")]
Count = Annotated[int, msgspec.Meta(ge=0)]
Ratio = Annotated[float, msgspec.Meta(ge=0, le=1)]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339, with a zone.")]
CallerToken = Annotated[str, msgspec.Meta(
    pattern=r"^ct1_[0-9a-f]{64}$", extra_json_schema=TOKENISED,
    description="Keyed HMAC-SHA256 of the caller's normalised number (`ct1_` + hex). "
                "The same key at every site, so it joins across sites and topics.")]
PhoneNumber = Annotated[str, msgspec.Meta(
    pattern=r"^\+?[0-9]{3,20}$", extra_json_schema=PERSONAL,
    description="A phone number as dialled (E.164 preferred). Personal data.")]
PersonName = Annotated[str, msgspec.Meta(
    min_length=1, max_length=200, extra_json_schema=PERSONAL,
    description="A person's name. Personal data.")]
CallerTier = Literal["standard", "vip"]


class EventModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Base of every event body.

    ``forbid_unknown_fields=False``: a consumer built against an older schema keeps
    decoding events that carry newer optional fields.
    """

    # The CloudEvents type, e.g. ``hotline.call.offered.v1`` (name + major version).
    TYPE: ClassVar[str]
    # The body field whose value becomes the CloudEvents subject.
    SUBJECT: ClassVar[str]

    @property
    def subject(self) -> str:
        return str(getattr(self, self.SUBJECT))
