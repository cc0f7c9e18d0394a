"""Creates the catalog's topics on a Kafka cluster, idempotently.

``plan`` is the pure decision (what to create, which configs to align, which
partition counts disagree); ``ensure_topics`` reads the cluster with confluent-kafka's
AdminClient, applies the plan and returns what it did. Partition counts are never
changed automatically: adding partitions moves keys to other partitions and breaks
the per-key order the catalog promises, so a mismatch is reported for a human.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from hotline_events.catalog import Catalog, Topic, default_catalog


@dataclass(frozen=True)
class ExistingTopic:
    partitions: int
    configs: Mapping[str, str]


@dataclass(frozen=True)
class PartitionMismatch:
    topic: str
    catalog: int
    cluster: int

    def __str__(self) -> str:
        return (f"{self.topic} has {self.cluster} partitions, the catalog says {self.catalog}: "
                "left as is (changing it would reorder keys); recreate the topic or change "
                "the catalog")


@dataclass
class Plan:
    create: list[Topic] = field(default_factory=list)
    alter: dict[str, dict[str, str]] = field(default_factory=dict)  # topic → configs to set
    mismatches: list[PartitionMismatch] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def noop(self) -> bool:
        return not self.create and not self.alter

    def lines(self, *, done: bool = True) -> list[str]:
        verb = ("created", "aligned") if done else ("would create", "would align")
        out = [f"{verb[0]} {t.name} ({t.partitions} partitions, {t.configs()})"
               for t in self.create]
        out += [f"{verb[1]} {name}: {configs}" for name, configs in self.alter.items()]
        out += [f"PARTITIONS {m}" for m in self.mismatches]
        out.append(f"{len(self.unchanged)} topic(s) already as in the catalog")
        return out


def plan(topics: Sequence[Topic], existing: Mapping[str, ExistingTopic]) -> Plan:
    """What to do so the cluster matches the catalog (pure)."""
    result = Plan()
    for topic in topics:
        have = existing.get(topic.name)
        if have is None:
            result.create.append(topic)
            continue
        drift = {k: v for k, v in topic.configs().items() if have.configs.get(k) != v}
        if drift:
            result.alter[topic.name] = drift
        if have.partitions != topic.partitions:
            result.mismatches.append(PartitionMismatch(topic.name, topic.partitions,
                                                       have.partitions))
        if not drift and have.partitions == topic.partitions:
            result.unchanged.append(topic.name)
    return result


def describe(admin: AdminClient, names: Sequence[str], timeout: float) -> dict[str, ExistingTopic]:
    """Partitions and configs of those of ``names`` that exist."""
    metadata = admin.list_topics(timeout=timeout)
    present = [n for n in names if n in metadata.topics and metadata.topics[n].error is None]
    if not present:
        return {}
    futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, n) for n in present],
                                     request_timeout=timeout)
    out: dict[str, ExistingTopic] = {}
    for resource, future in futures.items():
        entries = future.result(timeout=timeout)
        out[resource.name] = ExistingTopic(
            partitions=len(metadata.topics[resource.name].partitions),
            configs={k: e.value for k, e in entries.items() if e.value is not None})
    return out


def _create(admin: AdminClient, topics: Sequence[Topic], replication_factor: int,
            timeout: float) -> list[str]:
    """Create ``topics``; returns the names that already existed."""
    futures = admin.create_topics(
        [NewTopic(t.name, num_partitions=t.partitions, replication_factor=replication_factor,
                  config=t.configs()) for t in topics],
        operation_timeout=timeout, request_timeout=timeout)
    raced = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise KafkaException(f"creating topic {name} failed: {exc}") from exc
            raced.append(name)
    return raced


def _describe_when_visible(admin: AdminClient, names: Sequence[str],
                           timeout: float) -> dict[str, ExistingTopic]:
    deadline = time.monotonic() + timeout
    while True:
        found = describe(admin, names, timeout)
        if len(found) == len(names):
            return found
        if time.monotonic() > deadline:
            missing = sorted(set(names) - set(found))
            raise KafkaException(f"topics {missing} exist according to the broker but are "
                                 f"not in its metadata after {timeout} s")
        time.sleep(0.2)  # metadata propagation has no notification to wait on


def ensure_topics(bootstrap: str, catalog: Catalog | None = None, *,
                  replication_factor: int = -1, timeout: float = 30.0,
                  dry_run: bool = False) -> Plan:
    """Create missing topics (and dead-letter topics), align configs of existing ones.

    ``replication_factor=-1`` takes the broker's default. Raises ``KafkaException``
    naming the topic when the cluster refuses a change.
    """
    topics = (catalog or default_catalog()).all_topics()
    # One client for the whole run: it must stay referenced until every future has
    # resolved, or librdkafka cancels the outstanding requests.
    admin = AdminClient({"bootstrap.servers": bootstrap})
    result = plan(topics, describe(admin, [t.name for t in topics], timeout))
    if dry_run or result.noop:
        return result
    if result.create:
        raced = _create(admin, result.create, replication_factor, timeout)
        if raced:
            # Created meanwhile by someone else (or not yet in our metadata): treat them
            # as existing topics, so their configs and partitions are checked too.
            result.create = [t for t in result.create if t.name not in raced]
            again = plan([t for t in topics if t.name in raced],
                         _describe_when_visible(admin, raced, timeout))
            result.alter.update(again.alter)
            result.mismatches += again.mismatches
            result.unchanged += again.unchanged
    if result.alter:
        resources = [ConfigResource(ResourceType.TOPIC, name, incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in configs.items()]) for name, configs in result.alter.items()]
        for resource, future in admin.incremental_alter_configs(
                resources, request_timeout=timeout).items():
            try:
                future.result(timeout=timeout)
            except KafkaException as exc:
                raise KafkaException(f"aligning configs of topic {resource.name} failed: "
                                     f"{exc}") from exc
    return result
