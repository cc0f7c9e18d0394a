"""The Faust app: thin agents around the pure routing, ledger and SLA logic.

Topology (all state in changelog-backed tables, one partition per routing domain):

    cc.call.events ─┐
    cc.agent.events ─┼─ intake: decode, dead-letter bad records, re-key by tenant ─▶
    cc.callback.events┘         <app id>-tenant-events (partitions of cc.agent.events)
        ├─ routing: RoutingBook per tenant ─▶ cc.routing.decisions
        └─ sla: call ledger per call + SlaBook per tenant ─▶ cc.metrics.sla

Run: ``python -m hotline_streams worker`` (settings from the environment, see
``settings.py``). ``GET /ready`` answers 200 once tables are recovered and streams run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import faust
from faust.web import Request, Response, View

from hotline_events.catalog import Catalog, default_catalog
from hotline_events.envelope import Event, decode, encode
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
from hotline_events.models.metrics import SlaInterval
from hotline_events.models.routing import RoutingDecision
from hotline_streams import codec
from hotline_streams.config.loader import load_dir
from hotline_streams.config.models import TenantConfig
from hotline_streams.ledger.logic import call_id_of
from hotline_streams.ledger.models import CallEntry
from hotline_streams.routing.book import RoutingBook, new_book
from hotline_streams.routing.book import step as routing_step
from hotline_streams.service_levels.adapters import on_event as sla_on_event
from hotline_streams.service_levels.adapters import to_event
from hotline_streams.service_levels.intervals import SlaBook
from hotline_streams.settings import StreamSettings

log = logging.getLogger("hotline_streams")

# The event types the streams act on; everything else on the inputs is skipped early.
_WANTED_TYPES: tuple[type[EventModel], ...] = (
    *AGENT_TYPES, CallQueued, CallAnswered, CallAbandoned, CallCompleted, AgentNoAnswer,
    CallbackRequested)
WANTED = {t.TYPE for t in _WANTED_TYPES}
SOURCE_COMPONENT = "streams"

settings = StreamSettings.from_env()
catalog: Catalog = default_catalog().prefixed(settings.topic_prefix) \
    if settings.topic_prefix else default_catalog()
tenants: dict[str, TenantConfig] = (load_dir(settings.tenants_dir)
                                    if settings.tenants_dir is not None else {})


def _topic_of(model: type[EventModel] | Any) -> str:
    return catalog.topic_for_type(model.TYPE).name


CALL_TOPIC = _topic_of(CallQueued)
AGENT_TOPIC = _topic_of(AGENT_TYPES[0])
CALLBACK_TOPIC = _topic_of(CallbackRequested)
PARTITIONS = catalog.topic(AGENT_TOPIC).partitions  # routing domains are keyed like agent events

settings.data_dir.mkdir(parents=True, exist_ok=True)
app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.bootstrap}",
    key_serializer="raw",
    value_serializer="raw",
    store="memory://",  # state lives in the changelog topics; recovered on start
    datadir=str(settings.data_dir),
    topic_partitions=PARTITIONS,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=settings.session_timeout_s / 4,
    broker_commit_interval=1.0,
    processing_guarantee=settings.processing_guarantee,
    table_standby_replicas=0,
    web_enabled=True,
    web_host=settings.web_host,
    web_port=settings.web_port,
    web_in_thread=False,
)

inputs = app.topic(CALL_TOPIC, AGENT_TOPIC, CALLBACK_TOPIC, key_type=bytes, value_type=bytes)
tenant_events = app.topic(f"{settings.app_id}-tenant-events", key_type=bytes,
                          value_type=bytes, partitions=PARTITIONS, internal=True)
decisions_topic = app.topic(_topic_of(RoutingDecision), key_type=bytes, value_type=bytes)
sla_topic = app.topic(_topic_of(SlaInterval), key_type=bytes, value_type=bytes)
_dead_letters: dict[str, faust.TopicT] = {}

routing_books = app.Table("routing-books", partitions=PARTITIONS, key_type=bytes,
                          value_type=bytes)
# One table for a tenant's SLA book (key ``B/<tenant>``) and its calls' ledger entries
# (``L/<call id>``): written from the same event, both land in one changelog partition
# in write order, so after a crash the book is never behind the ledger.
sla_state = app.Table("sla-state", partitions=PARTITIONS, key_type=bytes, value_type=bytes)

_source = f"//hotline/{settings.site}/{SOURCE_COMPONENT}/{settings.app_id}"


def _headers(raw: Any) -> list[tuple[str, bytes]]:
    pairs = raw.items() if isinstance(raw, dict) else (raw or ())
    return [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in pairs]


def config_of(tenant: str) -> TenantConfig:
    return tenants.get(tenant) or TenantConfig(tenant=tenant)


async def _publish(topic: faust.TopicT, event: Event) -> None:
    """Send and wait for Kafka's acknowledgement: state that says "done" is written only
    after the output is durable, so a crash in between repeats the output (same event
    id, deduped downstream) and never loses it."""
    key, value, headers = encode(event, catalog=catalog)
    pending = await topic.send(key=key, value=value, headers=_headers(headers))
    await pending


@app.agent(inputs)
async def intake(stream: Any) -> None:
    """Decode and validate; bad records to the topic's dead letters; re-key by tenant."""
    async for record in stream.events():
        headers = _headers(record.headers)
        ce_type = next((v.decode() for k, v in headers if k == "ce_type"), None)
        if ce_type is not None and ce_type not in WANTED:
            continue
        try:
            event = decode(headers, record.value)
        except ContractError as exc:
            name = catalog.topic(record.message.topic).dead_letter_name
            dead = _dead_letters.setdefault(name, app.topic(name, key_type=bytes,
                                                            value_type=bytes))
            await dead.send(key=record.key, value=record.value,
                            headers=[*headers, ("error", str(exc).encode())])
            continue
        if event.type not in WANTED:
            continue
        tenant: str = event.data.tenant  # type: ignore[attr-defined]  # every WANTED type has it
        await tenant_events.send(key=tenant.encode(), value=record.value, headers=headers)


@app.agent(tenant_events)
async def routing(stream: Any) -> None:
    """Agent state and skills routing per tenant; decisions to the routing topic."""
    async for record in stream.events():
        event = decode(_headers(record.headers), record.value)
        tenant = record.key
        stored = routing_books.get(tenant)
        book = codec.load(stored, RoutingBook) if stored is not None \
            else new_book(tenant.decode())
        position = (record.message.partition, record.message.offset)
        book, out = routing_step(book, event, config_of(tenant.decode()), settings.site,
                                 position)
        for decision, decision_id, at in out:
            await _publish(decisions_topic, Event(data=decision, source=_source,
                                                  id=decision_id, time=at))
        routing_books[tenant] = codec.dump(book)


@app.agent(tenant_events)
async def service_levels(stream: Any) -> None:
    """Call ledger and per-queue 15-minute intervals; interval figures to the SLA topic."""
    async for record in stream.events():
        event = decode(_headers(record.headers), record.value)
        tenant = record.key
        config = config_of(tenant.decode())
        call_id = call_id_of(event)
        before = None
        if call_id is not None:
            stored = sla_state.get(b"L/" + call_id.encode())
            before = codec.load(stored, CallEntry) if stored is not None else None
        stored_book = sla_state.get(b"B/" + tenant)
        book = codec.load(stored_book, SlaBook) if stored_book is not None \
            else SlaBook(tenant=tenant.decode())
        book, after, emits, dropped = sla_on_event(
            book, before, event, config, settings.sla_grace_s,
            (record.message.partition, record.message.offset))
        if dropped:
            log.warning("SLA: %d outcome(s) of call %s later than the %.0f s grace, dropped",
                        dropped, call_id, settings.sla_grace_s)
        for emit in emits:
            data, event_id = to_event(emit, tenant.decode(), settings.site,
                                      config.settings(emit.interval.queue))
            await _publish(sla_topic, Event(data=data, source=_source, id=event_id,
                                            time=datetime.fromtimestamp(book.watermark, UTC)))
        # State after the output is acknowledged (a crash before repeats emits, never loses
        # them); the book before the ledger entry, both into one changelog partition in
        # this order: a book that already counted the event skips it on replay (by its
        # offset), while the ledger fold is idempotent.
        sla_state[b"B/" + tenant] = codec.dump(book)
        if call_id is not None and after is not None and after is not before:
            sla_state[b"L/" + call_id.encode()] = codec.dump(after)


@app.page("/ready")
async def ready(web: View, request: Request) -> Response:
    """200 once partitions are assigned, tables recovered and streams flowing."""
    recovered = app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
    assigned = bool(app.consumer.assignment()) if app.consumer is not None else False
    ok = recovered and assigned and not app.rebalancing
    return web.json({"ready": ok, "recovered": recovered, "assigned": assigned,
                    "rebalancing": app.rebalancing}, status=200 if ok else 503)


@app.page("/tenants/{tenant}/routing")
async def routing_view(web: View, request: Request, tenant: str) -> Response:
    """Waiting contacts and agent states of a tenant (JSON for the wallboard)."""
    stored = routing_books.get(tenant.encode())
    if stored is None:
        return web.json({"tenant": tenant, "contacts": [], "agents": [], "decisions": 0})
    book = codec.load(stored, RoutingBook)
    return web.json({
        "tenant": tenant,
        "contacts": [{"call_id": c.call_id, "queue": c.queue, "tier": c.tier.value,
                      "enqueued_at": c.enqueued_at, "offered_to": c.offered_to}
                     for c in book.state.contacts.values()],
        "agents": [{"agent_id": a.agent_id, "state": a.state.value, "contact": a.contact}
                   for a in book.state.agents.values()],
        "decisions": book.decisions,
    })
