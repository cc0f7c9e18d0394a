"""The worker's Kafka consumer: faust's aiokafka one, with commits that never pass an
event not durably processed, optionally run on the worker's own event loop.

Commits (:class:`Consumer`, always): faust counts the acks it gives, on its own, to
messages it skips during a rebalance, and commits past a single un-acked offset at the
committed position (its head-of-queue check is off by one). Either let a commit jump
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

``App.transport`` is set to :class:`InLoopTransport` (``hotline_streams.app``) when
``HOTLINE_STREAMS_CONSUMER_IN_LOOP=1``. Off by default: with it on, CI once lost one
call's SLA outcome across a worker kill under full-suite load
(tests/integration/streams/test_streams_service_levels.py; 28 passes since). The
default consumer later lost a routed call across a kill the same way
(test_streams_routing.py), so the cause may not be this consumer; until it is found,
the consumer thread stays the default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from mode.utils.futures import maybe_async

from hotline_streams.durable import is_durable


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer (in its thread), committing only durable progress."""

    def ack(self, message: Any) -> bool:
        if not is_durable(message):
            return False  # skipped by faust, re-delivered after the rebalance
        return bool(super().ack(message))

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        if acked and committed is not None and min(acked) > committed \
                and not self._gap[tp].overlaps_point(committed):
            return None  # the event at the committed offset is not done yet
        return super()._new_offset(tp)


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
