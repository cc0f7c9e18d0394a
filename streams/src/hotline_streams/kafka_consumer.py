"""Faust's Kafka consumer run on the worker's own event loop instead of a thread.

Why: faust-streaming runs aiokafka in a thread with its own event loop and hands every
fetch, commit and rebalance callback across through method queues. In this worker
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
from mode.utils.futures import maybe_async


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


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> InLoopConsumerThread:
        return InLoopConsumerThread(self, loop=self.loop, beacon=self.beacon)


class InLoopTransport(faust_aiokafka.Transport):
    Consumer = Consumer
