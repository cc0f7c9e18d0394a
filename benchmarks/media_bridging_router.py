"""A stand-in router for the bridged-call benchmark: every queued call gets an agent.

``media_capacity.py --bridged`` measures the media node, not routing: this thread
reads ``CallQueued`` from the call topic and answers each with a ``RoutingDecision``
for a fresh agent id (the node rings ``--agent-uri-template`` with it), and counts
calls bridged (``CallAnswered``) and ended.
"""

from __future__ import annotations

import threading
import uuid

from confluent_kafka import Consumer, TopicPartition

from hotline_events.catalog import Catalog
from hotline_events.envelope import decode
from hotline_events.errors import ContractError
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallCompleted, CallQueued
from hotline_events.models.routing import RoutingDecision
from hotline_events.producer import EventProducer


class Router(threading.Thread):
    def __init__(self, bootstrap: str, catalog: Catalog) -> None:
        super().__init__(daemon=True, name="bench-router")
        self.topic = catalog.topic_for_type(CallQueued.TYPE).name
        self.producer = EventProducer(bootstrap, "//hotline/site-a/benchmark/router",
                                      catalog=catalog)
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"bench-router-{uuid.uuid4().hex[:6]}",
                                  "enable.auto.commit": False})
        partitions = self.consumer.list_topics(self.topic, timeout=30).topics[self.topic]
        self.consumer.assign([TopicPartition(self.topic, p, 0) for p in partitions.partitions])
        self.answered: set[str] = set()
        self.ended: set[str] = set()
        self.decided = 0
        self.stop = threading.Event()

    @property
    def bridged_now(self) -> int:
        return len(self.answered - self.ended)

    def run(self) -> None:
        while not self.stop.is_set():
            msg = self.consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            try:
                data = decode(msg.headers() or [], msg.value()).data
            except ContractError:
                continue
            if isinstance(data, CallQueued):
                self.decided += 1
                self.producer.publish(RoutingDecision(
                    decision_id=uuid.uuid4().hex, call_id=data.call_id, tenant=data.tenant,
                    queue=data.queue, agent_id=f"bench-{self.decided:05d}", site="site-a",
                    rule="benchmark", waited_seconds=0.0, candidates=1))
                self.producer.flush(10)
            elif isinstance(data, CallAnswered):
                self.answered.add(data.call_id)
            elif isinstance(data, CallCompleted | CallAbandoned):
                self.ended.add(data.call_id)
        self.consumer.close()
