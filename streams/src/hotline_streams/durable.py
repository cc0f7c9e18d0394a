"""Table writes that are durable before their input's offset can be committed.

Why: faust-streaming 0.15 writes table changes through a producer buffer whose
``flush`` gives up after 100 ms without progress, and commits the input offsets
right after. Under CPU load a changelog record can still sit in that buffer when
its input is committed; a SIGKILL then loses the state change for good (the input
is not replayed). That is how SLA outcomes went missing across a worker kill.

So the stream agents read with manual acks (``stream.noack()``): each input event is
acknowledged, strictly in input order, only once every table write it made has been
acknowledged by Kafka. An un-acked event is never committed, so after a crash it is
replayed onto state that may or may not hold its effects; the pure logic recognises
its position (``applied`` offsets) and the folds are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger("hotline_streams.durable")


class DurableAcks:
    """One per agent stream: table writes of the current event, acked in order."""

    def __init__(self, stream: Any, app: Any) -> None:
        self.stream = stream
        self.app = app
        self._writes: list[Awaitable[Any]] = []
        self._events: list[Any] = []  # processed, waiting for a write that covers them
        self._queue: asyncio.Queue[tuple[int, list[Any], list[Awaitable[Any]]]] = \
            asyncio.Queue()
        self._acker: asyncio.Task[None] | None = None
        self._generation = 0
        app.on_partitions_revoked.connect(self._forget)

    async def _forget(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        """A rebalance: never ack an event of the old assignment. Faust forgets the
        partitions' acked offsets and re-delivers from the committed ones; a late ack of an
        old event would mark an offset done in the new assignment and let the commit
        jump over events not yet processed again."""
        self._generation += 1
        self._events, self._writes = [], []

    def put(self, table: Any, event: Any, key: bytes, value: bytes) -> None:
        """``table[key] = value``, remembering the changelog write for ``event``'s ack."""
        table.data[key] = value
        self._writes.append(table.send_changelog(event.message.partition, key, value))

    def done(self, event: Any, *, settled: bool = True) -> None:
        """The event is processed. It is acked once the writes made since the previous
        acked event are durable, in input order. An event that wrote nothing waits for
        the next event that does: an agent that checkpoints its state now and then
        (every dirty key at once) passes ``settled=False`` between checkpoints, and the
        checkpoint acks everything it covers."""
        if self._acker is None:
            self._acker = asyncio.ensure_future(self._ack_in_order())
        self._events.append(event)
        if self._writes or settled:
            self._queue.put_nowait((self._generation, self._events, self._writes))
            self._events, self._writes = [], []

    @property
    def unwritten(self) -> int:
        """Events processed since the last write (not acknowledgeable yet)."""
        return len(self._events)

    async def _ack_in_order(self) -> None:
        while True:
            generation, events, writes = await self._queue.get()
            try:
                for write in writes:
                    await write
            except Exception as exc:
                first = events[0].message
                log.exception("table write for inputs from %s[%d]@%d failed; worker crashes "
                              "without committing them (replayed after the restart)",
                              first.topic, first.partition, first.offset)
                await self.app.crash(exc)
                return
            if generation != self._generation:
                continue  # re-delivered after the rebalance; acked then
            for event in events:
                await self.stream.ack(event)
