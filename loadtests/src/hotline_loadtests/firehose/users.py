"""The Locust user that drives the firehose: one per Locust process (``fixed_count``).

Publishes the simulated contact center's events as they fall due and answers the
streams' routing decisions; Locust's statistics get one "route" sample per decision
(CallQueued published → RoutingDecision read back) and one "produce" sample per
batch of events Kafka acknowledged.
"""

from __future__ import annotations

import logging
import random
import time
import uuid

from confluent_kafka import OFFSET_END, Consumer, TopicPartition
from locust import User, constant, task

from hotline_events.envelope import Event, decode
from hotline_events.errors import ContractError
from hotline_events.models.calls import CallQueued
from hotline_events.models.routing import RoutingDecision
from hotline_events.producer import EventProducer, ProducerError
from hotline_loadtests.firehose.logic import Emit, Firehose, at
from hotline_loadtests.settings import RunSettings, from_options
from hotline_loadtests.shapes.logic import next_arrival

log = logging.getLogger("hotline.loadtests.firehose")
DRAIN_LIMIT_S = 600.0  # after the last arrival, calls in progress may finish this long

# What the report reads afterwards (this process's view).
arrivals: list[float] = []
run_window: dict[str, float] = {}


class FirehoseUser(User):
    fixed_count = 1
    wait_time = constant(0)

    def on_start(self) -> None:
        self.settings: RunSettings = from_options(self.environment.parsed_options)
        s = self.settings
        self.producer = EventProducer(s.kafka, f"//hotline/{s.site}/loadtests/firehose",
                                      catalog=s.catalog)
        self.firehose = Firehose(s.mix, site=s.site, rng=random.Random(s.seed),
                                 run_id=f"lt{uuid.uuid4().hex[:6]}")
        topic = s.catalog.topic_for_type(RoutingDecision.TYPE).name
        self.decisions = Consumer({"bootstrap.servers": s.kafka,
                                   "group.id": f"firehose-{self.firehose.run_id}",
                                   "enable.auto.commit": False})
        parts = self.decisions.list_topics(topic, timeout=10).topics[topic].partitions
        self.decisions.assign([TopicPartition(topic, p, OFFSET_END) for p in parts])
        self.queued_at: dict[str, float] = {}

    def on_stop(self) -> None:
        self.decisions.close()

    @task
    def drive(self) -> None:
        s = self.settings
        started = time.time()
        run_window["started_at"] = started
        self._publish(self.firehose.staff(s.agents, started))
        next_t = next_arrival(s.shape, 0.0, self.firehose.rng)
        while next_t is not None or self.firehose.busy():
            now = time.time()
            while next_t is not None and started + next_t <= now:
                arrivals.append(started + next_t)
                self._publish(self.firehose.arrive(started + next_t))
                next_t = next_arrival(s.shape, next_t, self.firehose.rng)
            self._read_decisions(now)
            self._publish(self.firehose.due(now))
            self.firehose.forget_finished()
            if next_t is None and now > started + s.shape.duration_s + DRAIN_LIMIT_S:
                log.warning("%d call(s) still in the system %.0f s after the last arrival; "
                            "ending the run without them", len(self.firehose.calls),
                            DRAIN_LIMIT_S)
                break
            time.sleep(0.02)  # gevent-patched under Locust: yields to other greenlets
        run_window["ended_at"] = time.time()
        if self.environment.runner is not None:
            self.environment.runner.quit()

    def _read_decisions(self, now: float) -> None:
        for _ in range(500):
            msg = self.decisions.poll(0)
            if msg is None:
                return
            if msg.error():
                continue
            try:
                event = decode(msg.headers(), msg.value())
            except ContractError:
                continue
            if not isinstance(event.data, RoutingDecision):
                continue
            queued = self.queued_at.pop(event.data.call_id, None)
            if queued is not None:
                self._sample("route", "queued→decision", (time.time() - queued) * 1000)
            self._publish(self.firehose.decide(event.data, now))

    def _publish(self, emits: list[Emit]) -> None:
        if not emits:
            return
        started = time.time()
        for t, data in emits:
            if isinstance(data, CallQueued):
                self.queued_at[data.call_id] = time.time()
            self.producer.publish_event(Event(data=data, source=self.producer.source,
                                              time=at(t)))
        exc: Exception | None = None
        try:
            self.producer.flush(30)
        except ProducerError as error:
            exc = error
        self._sample("produce", "batch" if len(emits) > 1 else "event",
                     (time.time() - started) * 1000, exc)

    def _sample(self, kind: str, name: str, ms: float, exc: Exception | None = None) -> None:
        self.environment.events.request.fire(
            request_type=kind, name=name, response_time=ms, response_length=0,
            exception=exc, context={})
