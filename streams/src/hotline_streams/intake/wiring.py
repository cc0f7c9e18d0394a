"""The intake agent: every input record decoded once, bad ones dead-lettered with the
reason (the consumer goes on), good ones re-keyed by tenant for routing and SLA."""

from __future__ import annotations

import logging
from typing import Any

import faust

from hotline_events.envelope import decode
from hotline_events.errors import ContractError
from hotline_events.models import EventModel
from hotline_events.models.agents import TYPES as AGENT_TYPES
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import (
    AgentNoAnswer,
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallQueued,
)
from hotline_streams.app import app, catalog, headers_of, inputs, tenant_events

log = logging.getLogger("hotline_streams.intake")

# The event types the streams act on; everything else on the inputs is skipped early.
_WANTED_TYPES: tuple[type[EventModel], ...] = (
    *AGENT_TYPES, CallQueued, CallAnswered, CallAbandoned, CallCompleted, AgentNoAnswer,
    CallbackRequested)
WANTED = {t.TYPE for t in _WANTED_TYPES}
_dead_letters: dict[str, faust.TopicT] = {}


@app.agent(inputs)
async def intake(stream: Any) -> None:
    """Decode and validate; bad records to the topic's dead letters; re-key by tenant."""
    async for record in stream.events():
        headers = headers_of(record.headers)
        ce_type = next((v.decode() for k, v in headers if k == "ce_type"), None)
        if ce_type is not None and ce_type not in WANTED:
            continue
        try:
            event = decode(headers, record.value)
        except ContractError as exc:
            topic = record.message.topic
            name = catalog.topic(topic).dead_letter_name
            log.warning("intake: record %s[%d]@%d breaks the contract (%s); dead-lettered "
                        "to %s, consumer goes on", topic, record.message.partition,
                        record.message.offset, exc, name)
            dead = _dead_letters.setdefault(name, app.topic(name, key_type=bytes,
                                                            value_type=bytes))
            await dead.send(key=record.key, value=record.value,
                            headers=[*headers, ("error", str(exc).encode())])
            continue
        if event.type not in WANTED:
            continue
        tenant: str = event.data.tenant  # type: ignore[attr-defined]  # every WANTED type has it
        await tenant_events.send(key=tenant.encode(), value=record.value, headers=headers)
