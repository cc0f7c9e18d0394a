"""Catalog loading and validation, PII placement, mirrored names, topic planning."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from hotline_events import REGISTRY, paths
from hotline_events.catalog import (
    CatalogError,
    default_catalog,
    mirrored,
    parse,
)
from hotline_events.examples import examples
from hotline_events.pii import marked_fields
from hotline_events.schemas import schema_of
from hotline_events.topics import ExistingTopic, plan


def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(paths.CATALOG_FILE.read_text())
    return data


def topic_entry(data: dict[str, Any], name: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(t for t in data["topics"] if t["name"] == name)
    return entry


def test_real_catalog_loads_with_every_type_on_exactly_one_topic() -> None:
    catalog = default_catalog()
    carried = [t for topic in catalog.topics for t in topic.types]
    assert sorted(carried) == sorted(REGISTRY)
    names = {t.name for t in catalog.topics}
    assert {"cc.call.events", "cc.agent.events", "cc.routing.decisions", "cc.callback.events",
            "cc.callback.commands", "cc.call.caller-identity", "cc.queue.stats",
            "cc.queue.estimates", "cc.metrics.sla", "cc.site.heartbeats", "cc.site.failover",
            "cc.media.heartbeats"} <= names


def test_every_topic_has_a_dead_letter_topic_with_the_same_pii_class() -> None:
    catalog = default_catalog()
    for topic in catalog.topics:
        dlq = catalog.topic(topic.name + ".deadletter")
        assert dlq.pii == topic.pii and dlq.dead_letter_of == topic.name
        assert dlq.cleanup_policy == "delete"
        if topic.pii == "personal":
            assert dlq.retention_ms == topic.retention_ms


def test_keys_order_a_call_by_call_id_and_routing_input_by_tenant() -> None:
    catalog = default_catalog()
    assert catalog.topic("cc.call.events").key == ("call_id",)
    assert catalog.topic("cc.agent.events").key == ("tenant",)
    assert catalog.topic("cc.routing.decisions").key == ("tenant",)
    # Co-partitioned, so one routing worker owns a tenant's agent state and decisions.
    assert (catalog.topic("cc.agent.events").partitions
            == catalog.topic("cc.routing.decisions").partitions)
    for name in ("cc.queue.stats", "cc.queue.estimates", "cc.metrics.sla", "cc.site.heartbeats",
                 "cc.media.heartbeats"):
        assert "compact" in catalog.topic(name).cleanup_policy


def test_types_with_personal_fields_are_only_on_personal_topics() -> None:
    catalog = default_catalog()
    personal_types = {t for t, cls in REGISTRY.items()
                      if "personal" in marked_fields(schema_of(cls)).values()}
    assert personal_types == {"hotline.call.caller-identity.v1", "hotline.callback.dial.v1"}
    for ce_type in personal_types:
        assert catalog.topic_for_type(ce_type).pii == "personal"
    for topic in catalog.topics:
        if topic.pii != "personal":
            for ce_type in topic.types:
                assert "personal" not in marked_fields(schema_of(REGISTRY[ce_type])).values()


def test_bi_topics_carry_the_caller_token_not_the_number() -> None:
    marks = marked_fields(schema_of(REGISTRY["hotline.callback.dial.v1"]))
    assert marks == {"$.caller_number": "personal", "$.caller_token": "tokenised"}


def test_mirrored_names_resolve_to_their_source_topic() -> None:
    catalog = default_catalog()
    assert mirrored("site-a", "cc.call.events") == "site-a.cc.call.events"
    assert catalog.topic("site-a.cc.call.events").name == "cc.call.events"
    with pytest.raises(CatalogError, match="not in the catalog"):
        catalog.topic("cc.nonsense")


def test_key_comes_from_the_catalog() -> None:
    catalog = default_catalog()
    assert catalog.key_for(examples()["hotline.agent.ready.v1"]) == b"acme-bank"
    assert catalog.key_for(examples()["hotline.queue.statistics.v1"]) == b"acme-bank/billing"
    prefixed = catalog.prefixed("t-1.")
    assert prefixed.topic_for_type("hotline.call.held.v1").name == "t-1.cc.call.events"
    assert prefixed.topic("site-b.t-1.cc.call.events").name == "t-1.cc.call.events"


def _invalid(change: Any, message: str) -> None:
    data = copy.deepcopy(raw())
    change(data)
    with pytest.raises(CatalogError, match=message):
        parse(data)


def test_unknown_type_is_rejected() -> None:
    _invalid(lambda d: topic_entry(d, "cc.call.events")["types"].append("hotline.call.zap.v1"),
             "unknown event type 'hotline.call.zap.v1'")


def test_type_on_two_topics_is_rejected() -> None:
    _invalid(lambda d: topic_entry(d, "cc.routing.decisions")["types"].append(
        "hotline.call.held.v1"), "hotline.call.held.v1 is already on topic cc.call.events")


def test_type_on_no_topic_is_rejected() -> None:
    _invalid(lambda d: topic_entry(d, "cc.call.events")["types"].remove("hotline.call.held.v1"),
             "hotline.call.held.v1 is on no topic")


def test_bad_pii_class_is_rejected() -> None:
    _invalid(lambda d: topic_entry(d, "cc.call.events").update(pii="secret"),
             "pii 'secret' is not one of")


def test_personal_type_on_a_tokenised_topic_is_rejected() -> None:
    def move(d: dict[str, Any]) -> None:
        topic_entry(d, "cc.call.caller-identity")["types"].remove(
            "hotline.call.caller-identity.v1")
        topic_entry(d, "cc.call.events")["types"].append("hotline.call.caller-identity.v1")
    _invalid(move, r"cc.call.events is classed 'tokenised' but carries "
                   r"hotline.call.caller-identity.v1, whose field\(s\) \$.caller_number, "
                   r"\$.caller_name are personal")


def test_token_on_a_none_topic_is_rejected() -> None:
    _invalid(lambda d: topic_entry(d, "cc.call.events").update(pii="none"),
             "classed 'none' but carries hotline.call.offered.v1.*caller_token are tokenised")


def test_personal_topics_must_expire() -> None:
    def compact(d: dict[str, Any]) -> None:
        entry = topic_entry(d, "cc.callback.commands")
        entry.update(cleanup_policy="compact")
        del entry["retention_ms"]
    _invalid(compact, "personal data needs cleanup_policy delete")


def test_key_field_must_be_a_required_field_of_every_type() -> None:
    _invalid(lambda d: topic_entry(d, "cc.call.events").update(key=["queue"]),
             "key field 'queue' is not a required field of hotline.call.offered.v1")


def test_retention_rules() -> None:
    _invalid(lambda d: topic_entry(d, "cc.queue.stats").update(retention_ms=1000),
             "a compacted topic keeps the latest record forever")
    _invalid(lambda d: topic_entry(d, "cc.call.events").pop("retention_ms"),
             "cleanup_policy delete needs a positive retention_ms")
    _invalid(lambda d: topic_entry(d, "cc.call.events").update(partitions=0),
             "partitions must be a positive integer")
    _invalid(lambda d: d["topics"].append(copy.deepcopy(d["topics"][0])), "listed twice")


def test_plan_creates_missing_aligns_configs_and_reports_partition_mismatches() -> None:
    topics = default_catalog().all_topics()
    calls = default_catalog().topic("cc.call.events")
    stats = default_catalog().topic("cc.queue.stats")
    existing = {
        calls.name: ExistingTopic(partitions=12, configs={**calls.configs(),
                                                          "retention.ms": "1000"}),
        stats.name: ExistingTopic(partitions=1, configs=dict(stats.configs())),
    }
    result = plan(topics, existing)
    assert {t.name for t in result.create} == {t.name for t in topics} - set(existing)
    assert result.alter == {"cc.call.events": {"retention.ms": "604800000"}}
    assert [str(m) for m in result.mismatches] == [
        "cc.queue.stats has 1 partitions, the catalog says 3: left as is (changing it would "
        "reorder keys); recreate the topic or change the catalog"]
    again = plan(topics, {t.name: ExistingTopic(t.partitions, t.configs()) for t in topics})
    assert again.noop and not again.mismatches and len(again.unchanged) == len(topics)
