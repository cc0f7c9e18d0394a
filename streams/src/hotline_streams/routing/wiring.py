"""The routing agent (agent state and skills routing per tenant) and its JSON view."""

from __future__ import annotations

from typing import Any

from faust.web import Request, Response, View

from hotline_events.envelope import Event, decode
from hotline_streams import codec
from hotline_streams.app import (
    app,
    config_of,
    headers_of,
    is_tick,
    publish,
    routing_books,
    settings,
    source,
    tenant_events,
)
from hotline_streams.durable import DurableAcks
from hotline_streams.queue_stats.adapters import live
from hotline_streams.routing.book import RoutingBook, new_book
from hotline_streams.routing.book import step as routing_step


@app.agent(tenant_events)
async def routing(stream: Any) -> None:
    """Agent state and skills routing per tenant; decisions to the routing topic."""
    acks = DurableAcks(stream := stream.noack(), app)
    async for record in stream.events():
        headers = headers_of(record.headers)
        event = None if is_tick(headers) else decode(headers, record.value)
        tenant = record.key
        stored = routing_books.get(tenant)
        book = codec.load(stored, RoutingBook) if stored is not None \
            else new_book(tenant.decode())
        position = (record.message.partition, record.message.offset)
        book, out = routing_step(book, event, config_of(tenant.decode()), settings.site,
                                 position, record.message.timestamp)
        await publish(*(Event(data=data, source=source, id=event_id, time=at)
                        for data, event_id, at in out))
        live.note(out)
        acks.put(routing_books, record, tenant, codec.dump(book))
        acks.done(record)


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
