"""The intake agent: every input record decoded once, bad ones dead-lettered with the
reason (the consumer goes on), good ones re-keyed by tenant for the tenant stream, and
call events folded into the screen pop on the way (one agent per input topic: faust's
per-message cost is paid once)."""

from __future__ import annotations

import logging
import time
from typing import Any

from hotline_events.envelope import decode, refuse_if_ahead
from hotline_events.errors import ContractError
from hotline_events.models import EventModel
from hotline_events.models.agents import TYPES as AGENT_TYPES
from hotline_events.models.callbacks import (
    CallbackCancelled,
    CallbackFailed,
    CallbackPreviewAnswered,
    CallbackPreviewOffered,
    CallbackRequested,
)
from hotline_events.models.calls import (
    AgentNoAnswer,
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallQueued,
)
from hotline_streams.app import (
    CALL_TOPIC,
    app,
    catalog,
    headers_of,
    inputs,
    outbox,
    tenant_events,
)
from hotline_streams.durable import DurableAcks
from hotline_streams.screen_pop import wiring as screen_pop

log = logging.getLogger("hotline_streams.intake")

# The event types the tenant stream acts on; with the screen pop's, all that is decoded
# (everything else on the inputs is skipped early).
_WANTED_TYPES: tuple[type[EventModel], ...] = (
    *AGENT_TYPES, CallQueued, CallAnswered, CallAbandoned, CallCompleted, AgentNoAnswer,
    CallbackRequested,
    # agent-first preview: routing holds the agent for the callback until it ends
    CallbackPreviewOffered, CallbackPreviewAnswered, CallbackFailed, CallbackCancelled)
WANTED = {t.TYPE for t in _WANTED_TYPES}
DECODED = WANTED | screen_pop.WANTED
TENANT_TOPIC = tenant_events.get_topic_name()


@app.agent(inputs)
async def intake(stream: Any) -> None:
    """Decode and validate; bad records to the topic's dead letters; re-key by tenant.

    An input is acked only once its re-keyed record (or dead letter) and screen-pop
    writes are acknowledged by Kafka (``DurableAcks``): a record still in the producer's
    buffer when the input offset was committed was lost for good by a SIGKILL."""
    acks = DurableAcks(stream.noack(), app, outbox)
    async for record in acks.events():
        headers = headers_of(record.headers)
        ce_type = next((v.decode() for k, v in headers if k == "ce_type"), None)
        if ce_type is not None and ce_type not in DECODED:
            acks.done(record)
            continue
        try:
            event = decode(headers, record.value)
            refuse_if_ahead(event, time.time())
        except ContractError as exc:
            topic = record.message.topic
            name = catalog.topic(topic).dead_letter_name
            log.warning("intake: record %s[%d]@%d breaks the contract (%s); dead-lettered "
                        "to %s, consumer goes on", topic, record.message.partition,
                        record.message.offset, exc, name)
            acks.output(outbox.send(name, record.key, record.value,
                                    [*headers, ("error", str(exc).encode())]))
            acks.done(record)
            continue
        if event.type in screen_pop.WANTED and record.message.topic == CALL_TOPIC:
            screen_pop.fold_call(event, record.message.partition, acks)
        if event.type in WANTED:
            tenant: str = event.data.tenant  # type: ignore[attr-defined]  # every WANTED type has it
            acks.output(outbox.send(TENANT_TOPIC, tenant.encode(), record.value, headers))
        acks.done(record)
