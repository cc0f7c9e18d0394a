"""Routing of the tenant stream (agent state and skills routing per tenant), its
checkpoints, and its JSON view. The agent that calls it is ``tenant_stream``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from faust.web import Request, Response, View

from hotline_events.envelope import Event
from hotline_streams import codec
from hotline_streams.app import app, config_of, routing_books, settings, source
from hotline_streams.durable import DurableAcks
from hotline_streams.queue_stats.adapters import live
from hotline_streams.routing.book import RoutingBook, new_book
from hotline_streams.routing.book import step as routing_step

log = logging.getLogger("hotline_streams.routing")

# Decoded books of this worker's tenants. The table holds checkpoints: writing a
# 1,000-agent book per event cost more than the routing itself. Events after a
# checkpoint are acked only with the next one (``tenant_stream``), so a crash replays
# them onto the last checkpoint, and replaying is deterministic (same decisions, same ids).
books: dict[bytes, RoutingBook] = {}
dirty: dict[bytes, int] = {}  # tenant → its changelog partition, changed since the checkpoint


def book_of(tenant: bytes) -> RoutingBook | None:
    """The tenant's book for the stream (decoded from the table once, then cached)."""
    if tenant not in books:
        stored = routing_books.get(tenant)
        if stored is None:
            return None
        books[tenant] = book = codec.load(stored, RoutingBook)
        # Once per start or rebalance: where replay resumes, for a post-mortem of a kill.
        log.info("routing: tenant %s resumes from its checkpoint: %d agents, %d contacts, "
                 "applied up to %s (partition: offset)", tenant.decode(),
                 len(book.state.agents), len(book.state.contacts), book.applied)
    return books[tenant]


def current_book(tenant: bytes) -> RoutingBook | None:
    """The tenant's book for a page: the stream's, else the table's checkpoint, never
    cached. Why: a page can run while the table is still recovering after a rebalance; a
    cached half-recovered book was then used by the stream and lost the agents in it."""
    if tenant in books:
        return books[tenant]
    stored = routing_books.get(tenant)
    return codec.load(stored, RoutingBook) if stored is not None else None


async def _forget_books(sender: Any, revoked: Any, **kwargs: Any) -> None:
    """Partitions may move: re-read books from the (recovered) table afterwards; the
    un-checkpointed events are un-acked and come again."""
    books.clear()
    dirty.clear()


app.on_partitions_revoked.connect(_forget_books)  # type: ignore[arg-type]  # faust types it loosely


def route(tenant: bytes, event: Event | None, position: tuple[int, int],
          wall_s: float) -> list[Event]:
    """One record of the tenant topic (``None``: a tick) through the tenant's book; the
    decisions (and RONA, statistics, estimates) to publish."""
    book = book_of(tenant) or new_book(tenant.decode())
    book, out = routing_step(book, event, config_of(tenant.decode()), settings.site,
                             position, wall_s)
    if out:
        live.note(out)
    books[tenant] = book
    dirty[tenant] = position[0]
    return [Event(data=data, source=source, id=event_id, time=at) for data, event_id, at in out]


def checkpoint(acks: DurableAcks) -> None:
    """Every changed book into the table (sent after the outputs that led to it)."""
    for tenant, partition in sorted(dirty.items()):
        acks.put(routing_books, partition, tenant, codec.dump(books[tenant]))
    dirty.clear()


def tenant_page(path: str) -> Callable[[Any], Any]:
    """A GET page about one tenant (``{tenant}`` in ``path``), answered by the worker
    that holds the tenant's partition: another worker forwards the request to it, so a
    wallboard behind the workers' Service sees the same figures whichever it reaches."""

    def register(view: Any) -> Any:
        return app.page(path)(app.table_route(table=routing_books, match_info="tenant")(view))
    return register


@tenant_page("/tenants/{tenant}/routing")
async def routing_view(web: View, request: Request, tenant: str) -> Response:
    """Waiting contacts and agent states of a tenant (JSON for the wallboard)."""
    book = current_book(tenant.encode())
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
