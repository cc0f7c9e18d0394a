"""The worker's Kafka consumer: faust's aiokafka one, with commits that never pass an
event not durably processed, optionally run on the worker's own event loop.

Commits (:class:`Consumer`, always): faust counts the acks it gives, on its own, to
messages it skips during a rebalance, and commits past a single un-acked offset at the
committed position (its head-of-queue check is off by one). Either lets a commit jump
over an event whose state was never written, lost for good by a SIGKILL. So only the
acks ``durable.DurableAcks`` gives count on its topics, and a commit starts at the
committed offset or not at all.

On the loop (:class:`InLoopTransport`): faust-streaming runs aiokafka in a thread with
its own event loop and hands every fetch, commit and rebalance callback across through
method queues. In this worker
that thread competes with the stream agents for the GIL: each hand-off can wait for
the interpreter's switch interval (5 ms), and a record crosses several of them on its
way from the broker to an agent. In benchmarks/streams_routing.py at 100 contacts/s a
record took about 15 ms from its production to its agent, per hop, for 0.5 ms of
processing; on the worker's loop, about 8 ms (and the decision's p50 went from about
35 to 20 ms). aiokafka is asyncio throughout, so it runs as well on the worker's loop:
the consumer service is the same, only its "thread" is a task.

``App.transport`` is :class:`InLoopTransport` (``hotline_streams.app``) when
``HOTLINE_STREAMS_CONSUMER_IN_LOOP=1``, else :class:`Transport`. Off by default: its
p99 was no better with the worker on a core of its own (README, routing benchmark),
and CI once lost one call's SLA outcome across a worker kill with it on; the default
consumer later lost a routed call the same way, so the commit rules above (found
after both) are the likelier cause than the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode.utils.futures import maybe_async

from hotline_streams.durable import is_durable

log = logging.getLogger("hotline_streams.kafka_consumer")

# Events acked past an un-acked committed offset before the worker says so (a
# re-delivery normally closes the hole within one batch).
STUCK_AFTER = 10_000


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer (in its thread), committing only durable progress."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stuck_warned: dict[TP, float] = {}  # tp → when last said

    def ack(self, message: Any) -> bool:
        if not is_durable(message):
            return False  # skipped by faust, re-delivered after the rebalance
        return bool(super().ack(message))

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        if acked and committed is not None and min(acked) > committed \
                and not self._gap[tp].overlaps_point(committed):
            self._warn_if_stuck(tp, committed, len(acked))
            return None  # the event at the committed offset is not done yet
        return super()._new_offset(tp)

    def _warn_if_stuck(self, tp: TP, committed: int, waiting: int) -> None:
        """Never expected: faust skipped the committed offset's event and did not
        re-deliver it. Nothing is lost (nothing is committed past it), but every restart
        replays from there and the acked offsets pile up in memory. (A transaction marker
        at the committed offset would stop it too: no producer of these topics is
        transactional; one that becomes so needs faust's gaps to cover it.)"""
        now = time.monotonic()
        if waiting < STUCK_AFTER or now - self._stuck_warned.get(tp, now - 60) < 60:
            return
        self._stuck_warned[tp] = now
        log.error("commits of %s[%d] are stuck at offset %d: that event was never "
                  "processed and %d later ones wait behind it; restart this worker to "
                  "process it again (its partitions are replayed from there)",
                  tp.topic, tp.partition, committed, waiting)


class _LoopTask:
    """Stands in for mode's ``WorkerThread``: serves the consumer service as a task on
    the loop that started it."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self._task: asyncio.Future[Any] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self.service._serve())
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Future[Any]) -> None:
        """Like mode's thread: a consumer that crashed still lets the worker shut down
        (``_serve`` has already logged and propagated the crash)."""
        if task.cancelled() or task.exception() is not None:
            self.service.set_shutdown()

    def stop(self) -> None:
        """Nothing to join: the service's own stop waits for ``_serve`` to finish."""

    def is_alive(self) -> bool:
        return self._task is not None and not self._task.done()


class InLoopConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer "thread", served on the caller's loop."""

    Worker = _LoopTask  # type: ignore[assignment]  # a task, not a thread

    def __init__(self, *args: Any, loop: asyncio.AbstractEventLoop | None = None,
                 **kwargs: Any) -> None:
        loop = loop or asyncio.get_event_loop_policy().get_event_loop()
        super().__init__(*args, loop=loop, thread_loop=loop, **kwargs)
        self._casts: set[asyncio.Future[Any]] = set()

    async def call_thread(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await maybe_async(fun(*args, **kwargs))  # mode's queue takes both kinds

    async def cast_thread(self, fun: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        task = asyncio.ensure_future(maybe_async(fun(*args, **kwargs)))
        self._casts.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._casts.discard)

    async def _gather_remaining_tasks(self) -> None:
        """mode cancels every task left on the thread's loop; here that loop is the
        worker's, whose tasks are not the consumer's to cancel."""


class InLoopConsumer(Consumer):
    def _new_consumer_thread(self) -> InLoopConsumerThread:
        return InLoopConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer


class InLoopTransport(Transport):
    Consumer = InLoopConsumer
