"""A type's own key on a shared compacted topic (callback figures next to service level)."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest
import yaml

from hotline_events import paths
from hotline_events.catalog import CatalogError, default_catalog, parse
from hotline_events.examples import examples

SLA = "cc.metrics.sla"
FIGURES = "hotline.metrics.callback-interval.v1"


def _sla_entry(data: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = next(t for t in data["topics"] if t["name"] == SLA)
    return entry


def test_callback_figures_are_keyed_with_the_site_and_service_level_is_not() -> None:
    catalog = default_catalog()
    sla = catalog.key_for(examples()["hotline.metrics.sla-interval.v1"])
    figures = catalog.key_for(examples()[FIGURES])
    assert sla == b"acme-bank/billing/2026-03-02T09:00:00.000000Z"
    assert figures == sla + b"/site-a"  # never replaces the service level in compaction
    assert catalog.prefixed("t.").topic(f"t.{SLA}").key_of(FIGURES) == (
        "tenant", "queue", "interval_start", "site")


def test_an_adopted_interval_and_this_sites_callback_figures_never_share_a_key() -> None:
    """Three records of one queue and interval on site-a's SLA topic stay apart: its own
    service level, site-b's interval it finished after a failover, its callback figures."""
    catalog = default_catalog()
    own = examples()["hotline.metrics.sla-interval.v1"]
    adopted = msgspec.structs.replace(own, adopted_from="site-b")
    figures = examples()[FIGURES]
    keys = {catalog.key_for(own), catalog.key_for(adopted), catalog.key_for(figures)}
    assert catalog.key_for(adopted) == catalog.key_for(own) + b"/site-b"
    assert len(keys) == 3


@pytest.mark.parametrize(("type_keys", "message"), [
    ({FIGURES: ["tenant", "site"]}, "must be the topic key's required fields"),
    ({FIGURES: ["tenant", "queue", "interval_start"]}, "must be the topic key's required"),
    ({FIGURES: ["tenant", "queue", "interval_start", "nope"]}, "'nope' is not a required"),
    ({"hotline.call.held.v1": ["tenant", "queue", "interval_start", "site"]},
     "not a type of this topic"),
    (["tenant"], "type_keys must map"),
])
def test_bad_type_keys_are_rejected_naming_the_problem(type_keys: Any, message: str) -> None:
    data = copy.deepcopy(yaml.safe_load(paths.CATALOG_FILE.read_text()))
    _sla_entry(data)["type_keys"] = type_keys
    with pytest.raises(CatalogError, match=message):
        parse(data)
