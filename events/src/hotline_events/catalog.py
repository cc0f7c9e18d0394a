"""The topic catalog (events/catalog.yaml): loaded into dataclasses and validated.

Producers and consumers ask the catalog for topics and keys; nothing else spells a
topic name. ``prefixed`` gives a renamed copy (isolated test topics, environments).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from hotline_events import pii
from hotline_events.envelope import format_time
from hotline_events.errors import CatalogError
from hotline_events.models import REGISTRY, EventModel
from hotline_events.paths import CATALOG_FILE
from hotline_events.schemas import schema_of

DEAD_LETTER_SUFFIX = ".deadletter"
CLEANUP_POLICIES = ("delete", "compact", "compact,delete")
DLQ_RETENTION_MS = 14 * 24 * 3600 * 1000
KEY_SEPARATOR = "/"
# A key field that may be absent: "name?" joins the key only when the body sets it.
OPTIONAL_KEY = "?"


@dataclass(frozen=True)
class Topic:
    name: str
    description: str
    key: tuple[str, ...]
    order: str
    partitions: int
    cleanup_policy: str
    retention_ms: int | None
    pii: str
    producer: str
    consumers: tuple[str, ...]
    types: tuple[str, ...]
    config: Mapping[str, str] = field(default_factory=dict)
    dead_letter_of: str | None = None  # set on a dead-letter topic: its source topic
    # A type whose latest state is not the topic key's (e.g. per-site callback figures
    # next to a queue's service level on a compacted topic): the topic key plus fields.
    type_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def key_of(self, ce_type: str) -> tuple[str, ...]:
        """The key fields of records of ``ce_type`` on this topic."""
        return self.type_keys.get(ce_type, self.key)

    @property
    def dead_letter_name(self) -> str:
        return self.name + DEAD_LETTER_SUFFIX

    def configs(self) -> dict[str, str]:
        """The topic-level Kafka configs the catalog owns."""
        out = {"cleanup.policy": self.cleanup_policy}
        if self.retention_ms is not None:
            out["retention.ms"] = str(self.retention_ms)
        out.update(self.config)
        return out


def dead_letter_topic(source: Topic) -> Topic:
    """``<name>.deadletter``: same key and PII class as its source, never compacted
    (distinct bad records with one key must all be kept), and for personal data no
    longer retained than the source."""
    retention = source.retention_ms if source.pii == "personal" else DLQ_RETENTION_MS
    return Topic(
        name=source.dead_letter_name,
        description=f"Records of {source.name} that failed validation, raw, with the error.",
        key=source.key,
        order="Same key as the source; order does not matter for dead letters.",
        partitions=min(source.partitions, 3),
        cleanup_policy="delete",
        retention_ms=retention,
        pii=source.pii,
        producer="any ContractConsumer reading " + source.name,
        consumers=("sre",),
        types=(),
        dead_letter_of=source.name,
    )


def mirrored(site: str, topic: str) -> str:
    """The name MirrorMaker 2 gives ``topic`` of ``site`` on the other cluster."""
    return f"{site}.{topic}"


@dataclass(frozen=True)
class Catalog:
    topics: tuple[Topic, ...]

    def __post_init__(self) -> None:
        by_type = {t: topic for topic in self.topics for t in topic.types}
        object.__setattr__(self, "_by_type", by_type)
        object.__setattr__(self, "_by_name", {t.name: t for t in self.all_topics()})

    def all_topics(self) -> list[Topic]:
        """Every topic to create: the catalog's and their dead-letter topics."""
        out: list[Topic] = []
        for topic in self.topics:
            out += [topic, dead_letter_topic(topic)]
        return out

    def topic(self, name: str) -> Topic:
        """A topic by name; a mirrored name (``site-a.cc.call.events``) gives its source."""
        by_name: dict[str, Topic] = self._by_name  # type: ignore[attr-defined]
        if name in by_name:
            return by_name[name]
        _, _, rest = name.partition(".")
        if rest in by_name:
            return by_name[rest]
        raise CatalogError(f"topic {name!r} is not in the catalog (events/catalog.yaml)")

    def topic_for_type(self, ce_type: str) -> Topic:
        by_type: dict[str, Topic] = self._by_type  # type: ignore[attr-defined]
        try:
            return by_type[ce_type]
        except KeyError:
            raise CatalogError(f"event type {ce_type!r} is on no topic of the catalog") from None

    def key_for(self, data: EventModel) -> bytes:
        """The record key: the key fields of ``data`` (its type's, where the catalog gives
        one, else the topic's) joined with ``/``; an optional one (``name?``) only when
        set, so records without it keep their key."""
        parts = []
        for name in self.topic_for_type(data.TYPE).key_of(data.TYPE):
            value = getattr(data, name.removesuffix(OPTIONAL_KEY))
            if name.endswith(OPTIONAL_KEY) and value is None:
                continue
            parts.append(format_time(value) if isinstance(value, datetime) else str(value))
        return KEY_SEPARATOR.join(parts).encode()

    def prefixed(self, prefix: str) -> Catalog:
        """The same catalog with every topic name prefixed (e.g. isolated test topics)."""
        return Catalog(tuple(replace(t, name=prefix + t.name) for t in self.topics))


def _problems(raw: Any, known: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], list[Topic]]:
    problems: list[str] = []
    topics: list[Topic] = []
    if not isinstance(raw, dict) or not isinstance(raw.get("topics"), list):
        return ["the catalog must be a mapping with a `topics` list"], []
    seen_names: set[str] = set()
    type_topic: dict[str, str] = {}
    for i, entry in enumerate(raw["topics"]):
        where = f"topics[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not a mapping")
            continue
        name = str(entry.get("name", ""))
        where = f"topic {name or where}"
        if not name or not name.startswith("cc.") or name.endswith(DEAD_LETTER_SUFFIX):
            problems.append(f"{where}: name must start with `cc.` and not end in "
                            f"{DEAD_LETTER_SUFFIX} (dead-letter topics are derived)")
        if name in seen_names:
            problems.append(f"{where}: listed twice")
        seen_names.add(name)
        unknown_keys = set(entry) - {"name", "description", "key", "order", "partitions",
                                     "cleanup_policy", "retention_ms", "config", "pii",
                                     "producer", "consumers", "types", "type_keys"}
        if unknown_keys:
            problems.append(f"{where}: unknown setting(s) {sorted(unknown_keys)}")
        partitions = entry.get("partitions")
        if not isinstance(partitions, int) or isinstance(partitions, bool) or partitions < 1:
            problems.append(f"{where}: partitions must be a positive integer, not {partitions!r}")
            partitions = 1
        policy = entry.get("cleanup_policy")
        retention = entry.get("retention_ms")
        if policy not in CLEANUP_POLICIES:
            problems.append(f"{where}: cleanup_policy {policy!r} is not one of {CLEANUP_POLICIES}")
        elif "delete" in policy and not (isinstance(retention, int) and retention > 0):
            problems.append(f"{where}: cleanup_policy {policy} needs a positive retention_ms")
        elif policy == "compact" and retention is not None:
            problems.append(f"{where}: a compacted topic keeps the latest record forever; "
                            "drop retention_ms or use compact,delete")
        pii_class = entry.get("pii")
        if pii_class not in pii.PII_CLASSES:
            problems.append(f"{where}: pii {pii_class!r} is not one of {pii.PII_CLASSES}")
        elif pii_class == "personal" and policy != "delete":
            problems.append(f"{where}: personal data needs cleanup_policy delete with a "
                            "retention_ms, so it expires")
        key = entry.get("key")
        if not (isinstance(key, list) and key and all(isinstance(k, str) for k in key)):
            problems.append(f"{where}: key must be a non-empty list of body field names")
            key = []
        for setting in ("description", "order", "producer"):
            if not isinstance(entry.get(setting), str) or not entry[setting].strip():
                problems.append(f"{where}: {setting} must be a non-empty text")
        consumers = entry.get("consumers")
        if not (isinstance(consumers, list) and consumers):
            problems.append(f"{where}: consumers must be a non-empty list")
            consumers = []
        config = entry.get("config") or {}
        if not isinstance(config, dict) or {"cleanup.policy", "retention.ms"} & set(config):
            problems.append(f"{where}: config must be a mapping without cleanup.policy or "
                            "retention.ms (use cleanup_policy / retention_ms)")
            config = {}
        types = entry.get("types")
        if not (isinstance(types, list) and types):
            problems.append(f"{where}: types must be a non-empty list of event types")
            types = []
        for ce_type in types:
            if ce_type not in known:
                problems.append(f"{where}: unknown event type {ce_type!r} (no model defines it)")
                continue
            if ce_type in type_topic:
                problems.append(f"{where}: event type {ce_type} is already on topic "
                                f"{type_topic[ce_type]}; each type goes to exactly one topic")
            type_topic[ce_type] = name
            schema = known[ce_type]
            if ce_type in (entry.get("type_keys") or {}):
                continue  # checked against its own key below
            for field_name in key:
                if field_name.endswith(OPTIONAL_KEY):
                    if field_name.removesuffix(OPTIONAL_KEY) not in schema.get("properties", {}):
                        problems.append(f"{where}: optional key field {field_name!r} is not a "
                                        f"field of {ce_type}")
                elif field_name not in schema.get("required", []):
                    problems.append(f"{where}: key field {field_name!r} is not a required field "
                                    f"of {ce_type}")
        type_keys = entry.get("type_keys") or {}
        if not isinstance(type_keys, dict):
            problems.append(f"{where}: type_keys must map event types to key field lists")
            type_keys = {}
        for ce_type, fields_ in type_keys.items():
            if ce_type not in types:
                problems.append(f"{where}: type_keys names {ce_type!r}, not a type of this topic")
                continue
            # The topic key's required fields first, so partitioning and reading by the
            # topic key still work; optional topic key fields are the other types' own.
            fixed = [f for f in key if not f.endswith(OPTIONAL_KEY)]
            if not (isinstance(fields_, list) and fields_[:len(fixed)] == fixed
                    and len(fields_) > len(fixed)):
                problems.append(f"{where}: type_keys of {ce_type} must be the topic key's "
                                f"required fields {fixed} followed by more fields, "
                                f"not {fields_!r}")
                continue
            required = known.get(ce_type, {}).get("required", [])
            for field_name in fields_:
                if field_name not in required:
                    problems.append(f"{where}: key field {field_name!r} is not a required field "
                                    f"of {ce_type}")
        if pii_class in pii.PII_CLASSES:
            problems += pii.violations(
                name, pii_class, {t: known[t] for t in types if t in known})
        topics.append(Topic(
            name=name, description=str(entry.get("description", "")).strip(), key=tuple(key),
            order=str(entry.get("order", "")).strip(), partitions=partitions,
            cleanup_policy=str(policy), retention_ms=retention if isinstance(retention, int)
            else None, pii=str(pii_class), producer=str(entry.get("producer", "")),
            consumers=tuple(str(c) for c in consumers), types=tuple(types),
            config={str(k): str(v) for k, v in config.items()},
            type_keys={str(t): tuple(str(f) for f in fs) for t, fs in type_keys.items()
                       if isinstance(fs, list)}))
    for ce_type in sorted(set(known) - set(type_topic)):
        problems.append(f"event type {ce_type} is on no topic: add it to one")
    return problems, topics


def parse(raw: Any, known: Mapping[str, Mapping[str, Any]] | None = None) -> Catalog:
    """A catalog from parsed YAML; ``CatalogError`` lists every problem at once."""
    if known is None:
        known = {t: schema_of(cls) for t, cls in REGISTRY.items()}
    problems, topics = _problems(raw, known)
    if problems:
        raise CatalogError("the topic catalog is invalid:\n  - " + "\n  - ".join(problems))
    return Catalog(tuple(topics))


def load(path: Path = CATALOG_FILE) -> Catalog:
    with path.open(encoding="utf-8") as fh:
        return parse(yaml.safe_load(fh))


@functools.cache
def default_catalog() -> Catalog:
    return load()
