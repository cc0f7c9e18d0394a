"""The callback scheduler tests' shared parts: a clock they move, a fresh store, isolated
topics, and the scheduler's production entry point as a process they can kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cassandra import ConsistencyLevel

from devstack import kafka
from devstack.cassandra import CassandraNode
from devstack.process import wait_for
from helpers.cql import local_session
from helpers.kafka_io import EventReader
from hotline_events.catalog import Catalog, default_catalog
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.callbacks import DialCallback
from hotline_events.models.metrics import QueueStatistics
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics
from hotline_streams.callbacks.scheduler import CRASH_AFTER_ENV
from hotline_streams.callbacks.store import CallbackStore, ensure_schema

TEST_SOURCE = "//hotline/site-a/test/callbacks"


class Clock:
    """The scheduler's ``now``: a test sets it to cross windows, backoffs, quiet hours."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextmanager
def callback_store(node: CassandraNode) -> Iterator[CallbackStore]:
    """A store on a keyspace of its own on ``node``'s datacenter (LOCAL_QUORUM)."""
    cluster, session = local_session(node, ConsistencyLevel.LOCAL_QUORUM)
    keyspace = f"callbacks_{uuid.uuid4().hex[:8]}"
    ensure_schema(session, keyspace, {node.datacenter: 1})
    try:
        yield CallbackStore(session, keyspace)
    finally:
        cluster.shutdown()


@dataclass
class Topics:
    """A catalog of its own (prefixed topics) on one Kafka cluster."""

    bootstrap: str
    catalog: Catalog
    prefix: str

    @classmethod
    def fresh(cls, bootstrap: str, prefix: str | None = None) -> Topics:
        """Created, and every partition led: a loaded broker takes a while to elect the
        leaders, and a producer gives up on a topic it keeps being told is unknown."""
        prefix = prefix or f"t{uuid.uuid4().hex[:8]}."
        catalog = default_catalog().prefixed(prefix)
        ensure_topics(bootstrap, catalog, replication_factor=1)
        names = {topic.name for topic in catalog.topics}

        def led() -> bool | None:
            found = kafka.admin(bootstrap).list_topics(timeout=10).topics
            return True if all(
                name in found and found[name].partitions and found[name].error is None
                and all(p.leader >= 0 for p in found[name].partitions.values())
                for name in names) else None

        wait_for(led, f"leaders for the {prefix}* topics", timeout=120, interval=0.2)
        return cls(bootstrap, catalog, prefix)

    def producer(self, source: str = TEST_SOURCE) -> EventProducer:
        return EventProducer(self.bootstrap, source, catalog=self.catalog)

    def publish(self, *events: EventModel, source: str = TEST_SOURCE) -> None:
        producer = self.producer(source)
        for data in events:
            producer.publish(data)
        producer.flush()

    def reader(self, model: type[EventModel]) -> EventReader:
        return EventReader(self.bootstrap, self.catalog.topic_for_type(model.TYPE).name)

    def topic(self, model: type[EventModel]) -> str:
        return self.catalog.topic_for_type(model.TYPE).name


def stats(tenant: str, agents_ready: int, queue: str = "billing",
          site: str = "site-a") -> QueueStatistics:
    return QueueStatistics(tenant=tenant, queue=queue, site=site, as_of=datetime.now(UTC),
                           waiting=0, longest_wait_seconds=0, agents_staffed=agents_ready,
                           agents_ready=agents_ready, agents_busy=0, agents_not_ready=0,
                           estimated_wait_seconds=0)


def commands(reader: EventReader, callback_ids: set[str]) -> list[Event]:
    return [e for e in reader.events if isinstance(e.data, DialCallback)
            and e.data.callback_id in callback_ids]


def read_to_end(reader: EventReader, timeout: float = 30.0) -> list[Event]:
    """Everything on the reader's topic up to now: to count what was sent, once the
    sender is known to have finished (e.g. the callback is stored as commanded)."""
    consumer = reader.consumer
    assigned = consumer.assignment()
    ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in assigned}

    def at_end(_events: list[Event]) -> bool:
        return all(tp.offset >= ends[tp.partition] if tp.offset >= 0 else ends[tp.partition] == 0
                   for tp in consumer.position(assigned))

    reader.poll_until(at_end, timeout)
    return reader.events


class SchedulerProcess:
    """``python -m hotline_streams.callbacks run`` with its HTTP port, log and signals."""

    def __init__(self, node: CassandraNode, keyspace: str, topics: Topics, log: Path, *,
                 site: str = "site-a", instance: str | None = None,
                 crash_after: str | None = None, extra: Sequence[str] = ()) -> None:
        self.log = log
        env = {k: v for k, v in os.environ.items() if k != CRASH_AFTER_ENV}
        if crash_after:
            env[CRASH_AFTER_ENV] = crash_after
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hotline_streams.callbacks", "run",
             "--kafka", topics.bootstrap, "--topic-prefix", topics.prefix,
             "--cassandra", node.contact_point, "--datacenter", node.datacenter,
             "--keyspace", keyspace, "--site", site,
             "--instance", instance or f"{site}-{uuid.uuid4().hex[:6]}",
             "--tick-seconds", "0.2", "--fence-check-seconds", "1", "--http", "127.0.0.1:0",
             *extra],
            env=env, stdout=subprocess.PIPE, stderr=log.open("ab"))
        self.web: str | None = None

    def wait_ready(self) -> SchedulerProcess:
        """Blocks until it printed its address and ``ready`` (or exited)."""
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline().decode()
        assert first.startswith("http "), f"scheduler did not start:\n{self.tail()}"
        self.web = first.split()[1]
        assert self.proc.stdout.readline().startswith(b"ready"), self.tail()
        return self

    def probe(self, path: str = "/readyz") -> tuple[int, dict[str, Any]]:
        assert self.web is not None
        try:
            with urllib.request.urlopen(f"{self.web}{path}", timeout=10) as reply:
                return reply.status, json.load(reply)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    def exit_code(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"scheduler still running after {timeout} s:\n"
                                 f"{self.tail()}") from None

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
