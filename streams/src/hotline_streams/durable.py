"""Outputs and table writes that are durable before their input's offset can be committed.

Why: faust-streaming 0.15 writes table changes and sends through a producer buffer
whose ``flush`` gives up after 100 ms without progress, and commits the input offsets
right after. Under CPU load a record can still sit in that buffer when its input is
committed; a SIGKILL then loses it for good (the input is not replayed). That is how
SLA outcomes went missing across a worker kill (state writes, and the intake's
re-keyed records, which were acked as soon as they were handed to the buffer).

So every agent reads with manual acks (``stream.noack()``): each input event is
acknowledged, strictly in input order, only once everything it produced is
acknowledged by Kafka, in two steps: first its outputs (decisions, SLA records,
re-keyed events), then its table writes. A table write is *sent* only after the
outputs before it are acknowledged, so stored state that says "done" never exists
without the output it stands for (a crash repeats the output, same event ids, deduped
downstream; it never loses it). An un-acked event is never committed, so after a crash
it is replayed onto state that may or may not hold its effects; the pure logic
recognises its position (``applied`` offsets) and the folds are idempotent.

Nothing here waits per event: the processing loop only queues; one background task
drains whatever is queued at once (outputs, then writes, then acks), so under load a
round trip to Kafka covers many events.

A rebalance makes the agents drop their cached state and faust re-deliver from the
committed offsets, so two more rules keep "acked" meaning "durable" across one. Faust's
own acks, which it gives the messages it skips during a rebalance without processing
them, are not counted (``is_durable``, checked by the worker's consumer in
``kafka_consumer``): counted, they let a commit pass an event never processed, lost for
good if the worker died before its re-delivery was checkpointed. And an event whose
processing straddled a revocation (received before it, done after) is never acked, since
its effect was on the dropped cache; only an agent that awaits between the two can see
that, which ours do not today. Last, a revoked worker holds the rebalance until its
queued outputs and table writes are acknowledged (``_forget``): the partition's next
owner restores the changelog as soon as it is assigned, and a write landing after that
owner's own writes of the same key would stand in the changelog as the newest, older
state (a later restore, even the same owner's at the next rebalance, reads it back: SLA
counts went missing that way across a join and a kill).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

from hotline_streams.outbox import Outbox

log = logging.getLogger("hotline_streams.durable")

# How long a revocation waits for queued writes (below faust's 60 s rebalance timeout,
# after which the group would go on without this worker anyway).
DRAIN_TIMEOUT_S = 30.0

# Topics whose acks only DurableAcks gives, and the messages it has acked.
_MANAGED_TOPICS: set[str] = set()
_DURABLE: weakref.WeakSet[Any] = weakref.WeakSet()


def is_durable(message: Any) -> bool:
    """May the consumer count this ack? Not when faust acks, on its own, a message of
    a DurableAcks topic that it skipped: it is re-delivered after the rebalance and has
    to be processed then, not committed past."""
    return message.topic not in _MANAGED_TOPICS or message in _DURABLE


@dataclass
class _Batch:
    generation: int
    events: list[Any] = field(default_factory=list)
    outputs: list[Awaitable[Any]] = field(default_factory=list)
    writes: list[tuple[Any, int, bytes, bytes]] = field(default_factory=list)  # table, p, k, v


class DurableAcks:
    """One per agent stream: outputs and table writes of processed events, acked in order."""

    def __init__(self, stream: Any, app: Any, outbox: Outbox) -> None:
        self.stream = stream
        self.app = app
        self.outbox = outbox
        self._generation = 0
        self._current = _Batch(0)
        self._queue: asyncio.Queue[_Batch] = asyncio.Queue()
        self._acker: asyncio.Task[None] | None = None
        self._received_in = 0  # the generation the event being processed arrived in
        self._queued = 0  # batches queued and not yet written
        self._drained = asyncio.Event()  # set while nothing is queued
        self._drained.set()
        _MANAGED_TOPICS.update(stream.channel.topics)
        app.on_partitions_revoked.connect(self._forget)

    async def events(self) -> AsyncIterator[Any]:
        """The stream's events; use this, not ``stream.events()``, so ``done`` knows
        whether a rebalance began while an event was processed."""
        async for event in self.stream.events():
            self._received_in = self._generation
            yield event

    async def _forget(self, sender: Any, revoked: Any, **kwargs: Any) -> None:
        """A rebalance: never ack an event of the old assignment. Faust forgets the
        partitions' acked offsets and re-delivers from the committed ones; a late ack of an
        old event would mark an offset done in the new assignment and let the commit
        jump over events not yet processed again."""
        self._generation += 1
        self._current = _Batch(self._generation)
        if self._drained.is_set():
            return
        try:
            await asyncio.wait_for(self._drained.wait(), DRAIN_TIMEOUT_S)
        except TimeoutError:
            log.error("%d batch(es) of outputs and table writes of %s were still unwritten "
                      "%.0f s into a rebalance; going on: a late write may overwrite the "
                      "next owner's newer state in the changelog (check the brokers)",
                      self._queued, ",".join(self.stream.channel.topics), DRAIN_TIMEOUT_S)

    def output(self, sent: Awaitable[Any]) -> None:
        """An output record of the current event (a ``FutureMessage`` of a send)."""
        self._current.outputs.append(sent)

    def put(self, table: Any, partition: int, key: bytes, value: bytes) -> None:
        """``table[key] = value`` now; its changelog record (into ``partition``, the
        key's input partition) is sent once the outputs queued so far are acknowledged,
        and the events acked once it is."""
        table.data[key] = value
        self._current.writes.append((table, partition, key, value))

    def done(self, event: Any, *, settled: bool = True) -> None:
        """The event is processed. It is acked once its outputs and the writes made since
        the previous acked event are durable, in input order. An agent that checkpoints
        its state now and then (every dirty key at once) passes ``settled=False`` while
        state changes are only in memory; the next settled event (the checkpoint) acks
        everything it covers."""
        if self._acker is None:
            self._acker = asyncio.ensure_future(self._ack_in_order())
        if self._received_in != self._generation:
            # Processed on state dropped at the revocation: re-delivered and redone.
            log.info("%s[%d]@%d was processed across a rebalance; not acked, it is "
                     "processed again from the committed offset", event.message.topic,
                     event.message.partition, event.message.offset)
            return
        batch = self._current
        batch.events.append(event)
        if settled:
            self._queued += 1
            self._drained.clear()
            self._queue.put_nowait(batch)
            self._current = _Batch(self._generation)

    @property
    def unwritten(self) -> int:
        """Events processed since the last write (not acknowledgeable yet)."""
        return len(self._current.events)

    async def _ack_in_order(self) -> None:
        while True:
            batches = [await self._queue.get()]
            while not self._queue.empty():
                batches.append(self._queue.get_nowait())
            try:
                for batch in batches:
                    for sent in batch.outputs:
                        await sent
                # Written even for an old assignment (the revocation waits for them): the
                # in-memory table already holds them, and a skipped write would leave the
                # changelog behind it if the partition stays here.
                writes = [self.outbox.send(table.changelog_topic.get_topic_name(), key, value,
                                           partition=partition)
                          for batch in batches
                          for table, partition, key, value in batch.writes]
                for write in writes:
                    await write
            except Exception as exc:
                first = batches[0].events[0].message
                log.exception("output or table write for inputs from %s[%d]@%d failed; the "
                              "worker crashes without committing them (replayed after the "
                              "restart)", first.topic, first.partition, first.offset)
                self._drained.set()  # nothing more will be written: never hold a rebalance
                await self.app.crash(exc)
                return
            self._queued -= len(batches)
            if not self._queued:
                self._drained.set()
            for batch in batches:
                if batch.generation != self._generation:
                    continue  # re-delivered after the rebalance; acked then
                for event in batch.events:
                    _DURABLE.add(event.message)
                    await self.stream.ack(event)
