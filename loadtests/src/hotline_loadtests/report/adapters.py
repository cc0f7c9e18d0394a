"""Reading what the platform published during a run from Kafka (SLA intervals, queue
statistics, routing decisions), by partition assignment from the run's start."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition

from hotline_events.catalog import Catalog
from hotline_events.envelope import decode
from hotline_events.errors import ContractError
from hotline_events.models import EventModel
from hotline_events.models.metrics import QueueStatistics, SlaInterval


def read_since(bootstrap: str, catalog: Catalog, model: type[EventModel], since: float,
               idle_s: float = 3.0, limit_s: float = 60.0) -> list[EventModel]:
    """Every event of ``model``'s type on its topic with a record time at or after
    ``since`` (epoch seconds), until the topic has been quiet for ``idle_s``."""
    topic = catalog.topic_for_type(model.TYPE).name
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"report-{uuid.uuid4()}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        wanted = [TopicPartition(topic, p, int(since * 1000)) for p in parts]
        starts = consumer.offsets_for_times(wanted, timeout=10)
        consumer.assign(starts)
        out: list[EventModel] = []
        at_end: set[int] = set()
        deadline = time.monotonic() + limit_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline and (len(at_end) < len(parts)
                                               or time.monotonic() - quiet_since < idle_s):
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end.add(msg.partition() or 0)
                    continue
                raise RuntimeError(f"reading {topic} for the report: {err}")
            quiet_since = time.monotonic()
            at_end.discard(msg.partition())
            try:
                event = decode(msg.headers(), msg.value())
            except ContractError:
                continue  # the streams dead-letter these; a report skips them
            if isinstance(event.data, model):
                out.append(event.data)
        return out
    finally:
        consumer.close()


def sla_intervals(bootstrap: str, catalog: Catalog, since: float) -> list[SlaInterval]:
    return [e for e in read_since(bootstrap, catalog, SlaInterval, since)
            if isinstance(e, SlaInterval)]


def queue_statistics(bootstrap: str, catalog: Catalog, since: float) -> list[QueueStatistics]:
    return [e for e in read_since(bootstrap, catalog, QueueStatistics, since)
            if isinstance(e, QueueStatistics)]
