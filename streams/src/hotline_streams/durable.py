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
        self._queue: asyncio.Queue[tuple[Any, list[Awaitable[Any]]]] = asyncio.Queue()
        self._acker: asyncio.Task[None] | None = None

    def put(self, table: Any, event: Any, key: bytes, value: bytes) -> None:
        """``table[key] = value``, remembering the changelog write for ``event``'s ack."""
        table.data[key] = value
        self._writes.append(table.send_changelog(event.message.partition, key, value))

    def done(self, event: Any) -> None:
        """The event is processed; ack it once its writes are durable (in input order)."""
        if self._acker is None:
            self._acker = asyncio.ensure_future(self._ack_in_order())
        self._queue.put_nowait((event, self._writes))
        self._writes = []

    async def _ack_in_order(self) -> None:
        while True:
            event, writes = await self._queue.get()
            try:
                for write in writes:
                    await write
            except Exception as exc:
                log.exception("table write for input %s[%d]@%d failed; worker crashes "
                              "without committing it (replayed after the restart)",
                              event.message.topic, event.message.partition,
                              event.message.offset)
                await self.app.crash(exc)
                return
            await self.stream.ack(event)
