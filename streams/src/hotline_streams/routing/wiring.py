"""The routing agent (agent state and skills routing per tenant) and its JSON view."""

from __future__ import annotations

import time
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

# Decoded books of this worker's tenants. The table holds checkpoints: writing a
# 1,000-agent book per event cost more than the routing itself. Events after a
# checkpoint are acked only with the next one, so a crash replays them onto the last
# checkpoint, and replaying is deterministic (same decisions, same ids).
books: dict[bytes, RoutingBook] = {}
CHECKPOINT_EVENTS = 200
CHECKPOINT_S = 0.2


def book_of(tenant: bytes) -> RoutingBook | None:
    if tenant not in books:
        stored = routing_books.get(tenant)
        if stored is None:
            return None
        books[tenant] = codec.load(stored, RoutingBook)
    return books[tenant]


async def _forget_books(sender: Any, revoked: Any, **kwargs: Any) -> None:
    """Partitions may move: re-read books from the (recovered) table afterwards."""
    books.clear()


app.on_partitions_revoked.connect(_forget_books)  # type: ignore[arg-type]  # faust types it loosely


@app.agent(tenant_events)
async def routing(stream: Any) -> None:
    """Agent state and skills routing per tenant; decisions to the routing topic."""
    acks = DurableAcks(stream := stream.noack(), app)
    dirty: set[bytes] = set()
    checkpointed = time.monotonic()
    async for record in stream.events():
        headers = headers_of(record.headers)
        tick = is_tick(headers)
        event = None if tick else decode(headers, record.value)
        tenant = record.key
        book = book_of(tenant) or new_book(tenant.decode())
        position = (record.message.partition, record.message.offset)
        book, out = routing_step(book, event, config_of(tenant.decode()), settings.site,
                                 position, record.message.timestamp)
        await publish(*(Event(data=data, source=source, id=event_id, time=at)
                        for data, event_id, at in out))
        live.note(out)
        books[tenant] = book
        dirty.add(tenant)
        if tick or acks.unwritten + 1 >= CHECKPOINT_EVENTS \
                or time.monotonic() - checkpointed >= CHECKPOINT_S:
            for key in sorted(dirty):  # every dirty book: the acks cover all tenants
                acks.put(routing_books, record, key, codec.dump(books[key]))
            dirty.clear()
            checkpointed = time.monotonic()
        acks.done(record, settled=not dirty)


@app.page("/tenants/{tenant}/routing")
async def routing_view(web: View, request: Request, tenant: str) -> Response:
    """Waiting contacts and agent states of a tenant (JSON for the wallboard)."""
    book = book_of(tenant.encode())
    if book is None:
        return web.json({"tenant": tenant, "contacts": [], "agents": [], "decisions": 0})
    return web.json({
        "tenant": tenant,
        "contacts": [{"call_id": c.call_id, "queue": c.queue, "tier": c.tier.value,
                      "enqueued_at": c.enqueued_at, "offered_to": c.offered_to}
                     for c in book.state.contacts.values()],
        "agents": [{"agent_id": a.agent_id, "state": a.state.value, "contact": a.contact}
                   for a in book.state.agents.values()],
        "decisions": book.decisions,
    })
