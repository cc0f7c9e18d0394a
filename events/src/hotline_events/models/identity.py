"""Caller identity for screen pop: the caller's number and name, in clear.

Personal data: only on `personal` topics (``cc.call.caller-identity``), read by the
agent desktop, never by BI. BI joins on ``caller_token`` instead.
"""

from __future__ import annotations

from typing import ClassVar

from hotline_events.models._base import (
    CallerToken,
    CallId,
    EventModel,
    PersonName,
    PhoneNumber,
    Tenant,
)


class CallerIdentified(EventModel, frozen=True, kw_only=True):
    """Who is calling, for the agent's screen pop."""

    TYPE: ClassVar[str] = "hotline.call.caller-identity.v1"
    SUBJECT: ClassVar[str] = "call_id"
    call_id: CallId
    tenant: Tenant
    caller_number: PhoneNumber
    caller_name: PersonName | None = None
    caller_token: CallerToken


TYPES: tuple[type[EventModel], ...] = (CallerIdentified,)
