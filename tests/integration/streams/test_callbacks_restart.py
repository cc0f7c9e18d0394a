"""No callback lost in a restart: the caller's number and the request are joined in
Cassandra, so a scheduler stopped (SIGKILL or SIGTERM) between them, or at any step of
the join, still creates each callback and dials it exactly once.

Every scheduler here is the production entry point on real Kafka and Cassandra, each
pipeline on topics and a tenant of its own; the kills at each step come from the
scheduler's crash hook (exit at once, as SIGKILL; or SIGTERM to itself).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from devstack.process import wait_for
from helpers.callbacks import SchedulerProcess, Topics, callback_store, read_to_end, stats
from helpers.kafka_io import committed
from hotline_events.models import EventModel
from hotline_events.models.callbacks import CallbackRequested, CallbackScheduled, DialCallback
from hotline_events.models.identity import CallerIdentified
from hotline_streams.callbacks.models import Status
from hotline_streams.callbacks.scheduler import CRASH_EXIT_CODE
from hotline_streams.callbacks.store import CallbackStore

pytestmark = pytest.mark.integration

TOKEN = "ct1_" + "c" * 64


@pytest.fixture(scope="module")
def store(cassandra_dc_a: CassandraNode) -> Iterator[CallbackStore]:
    with callback_store(cassandra_dc_a) as found:
        yield found


@dataclass
class Pipeline:
    """One callback's way in: its own topics, tenant and call, so pipelines run side by
    side without seeing each other's events."""

    topics: Topics
    tenant: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:6]}")
    call_id: str = field(default_factory=lambda: f"call-{uuid.uuid4().hex[:8]}")
    callback_id: str = field(default_factory=lambda: f"cb-{uuid.uuid4().hex[:8]}")

    def identity(self) -> CallerIdentified:
        return CallerIdentified(call_id=self.call_id, tenant=self.tenant,
                                caller_number="+4930555123", caller_token=TOKEN)

    def request(self) -> CallbackRequested:
        return CallbackRequested(callback_id=self.callback_id, call_id=self.call_id,
                                 tenant=self.tenant, queue="billing", reason="caller-request",
                                 caller_token=TOKEN, original_enqueued_at=datetime.now(UTC))

    def dialled_once(self, store: CallbackStore) -> None:
        """Its callback scheduled under one event id, commanded once (an agent is free)."""
        self.topics.publish(stats(self.tenant, agents_ready=5))
        wait_for(lambda: True if (cb := store.get(self.tenant, self.callback_id)) is not None
                 and cb.status is Status.COMMANDED else None,
                 f"callback {self.callback_id} commanded", timeout=60, interval=0.2)
        for model in (DialCallback, CallbackScheduled):
            reader = self.topics.reader(model)
            try:
                sent = [e for e in read_to_end(reader) if isinstance(e.data, model)
                        and e.data.callback_id == self.callback_id]
            finally:
                reader.close()
            # Said again after a restart (or a command after its claim expired, with no
            # media node here to confirm it): under the same id, which consumers drop.
            assert len({e.id for e in sent}) == 1, sent
            if model is DialCallback:
                assert {e.data.attempt for e in sent} == {1}, sent  # type: ignore[attr-defined]


def start(node: CassandraNode, store: CallbackStore, pipeline: Pipeline, log: Path,
          crash_after: str | None = None) -> SchedulerProcess:
    return SchedulerProcess(node, store.keyspace, pipeline.topics, log, crash_after=crash_after)


def test_a_scheduler_killed_after_the_number_was_committed_still_creates_the_callback(
        cassandra_dc_a: CassandraNode, kafka_site_a: KafkaCluster, store: CallbackStore,
        tmp_path: Path) -> None:
    """The trial from the issue: the caller's identity handled and its offset committed,
    the scheduler killed from outside, the request only after the restart (a SIGTERM
    at that point is the ``identity-stored`` step of the test below)."""
    pipeline = Pipeline(Topics.fresh(kafka_site_a.bootstrap))
    first = start(cassandra_dc_a, store, pipeline, tmp_path / "first.log").wait_ready()
    try:
        pipeline.topics.publish(pipeline.identity())
        group = f"{pipeline.topics.prefix}hotline-callbacks-site-a"
        identities = pipeline.topics.topic(CallerIdentified)

        def identity_committed() -> bool | None:
            # The consumer stores the offset once it polls again and commits it in the
            # background; a fresh broker may still be loading its group coordinator.
            try:
                offsets = committed(kafka_site_a.bootstrap, group, identities, partitions=12)
            except (KafkaException, TimeoutError):
                return None
            return True if max(offsets) > 0 else None

        wait_for(identity_committed, "the identity's offset committed", timeout=90,
                 interval=0.2)
        first.proc.kill()
    finally:
        first.stop()
    second = start(cassandra_dc_a, store, pipeline, tmp_path / "second.log").wait_ready()
    try:
        pipeline.topics.publish(pipeline.request())
        pipeline.dialled_once(store)
    finally:
        second.stop()


# step → what reaches the first scheduler before it stops, and what only the next one gets
STEPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "identity-stored": (("identity",), ("request",)),
    "request-stored": (("request",), ("identity",)),
    "created": (("identity", "request"), ()),  # stored, still in the inbox
    "stored": (("identity", "request"), ()),  # stored, not yet said to be scheduled
}


@pytest.mark.parametrize("how", ["kill", "term"])
def test_a_scheduler_stopped_at_any_step_of_the_join_creates_and_dials_each_callback_once(
        cassandra_dc_a: CassandraNode, kafka_site_a: KafkaCluster, store: CallbackStore,
        tmp_path: Path, how: str) -> None:
    pipelines = {step: Pipeline(Topics.fresh(kafka_site_a.bootstrap)) for step in STEPS}

    def events(pipeline: Pipeline, names: tuple[str, ...]) -> list[EventModel]:
        made = {"identity": pipeline.identity, "request": pipeline.request}
        return [made[name]() for name in names]

    first = {step: start(cassandra_dc_a, store, pipeline, tmp_path / f"{step}-1.log",
                         crash_after=step if how == "kill" else f"{step}:term")
             for step, pipeline in pipelines.items()}
    try:
        for step, process in first.items():
            process.wait_ready()
            pipelines[step].topics.publish(*events(pipelines[step], STEPS[step][0]))
        for step, process in first.items():
            expected = CRASH_EXIT_CODE if how == "kill" else 0
            assert process.exit_code(60) == expected, f"{step}:\n{process.tail()}"
            assert f"after the {step} step" in process.tail(), process.tail()
    finally:
        for process in first.values():
            process.stop()
    second = {step: start(cassandra_dc_a, store, pipeline, tmp_path / f"{step}-2.log")
              for step, pipeline in pipelines.items()}
    try:
        for step, process in second.items():
            process.wait_ready()
            pipelines[step].topics.publish(*events(pipelines[step], STEPS[step][1]))
        for step, pipeline in pipelines.items():
            try:
                pipeline.dialled_once(store)
            except AssertionError as exc:
                raise AssertionError(f"after a {how} at {step}: {exc}\n"
                                     f"{second[step].tail()}") from exc
    finally:
        for process in second.values():
            process.stop()
