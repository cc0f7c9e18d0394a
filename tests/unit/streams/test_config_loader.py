"""Tenant configuration from YAML: the plain models it yields, and errors naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline_streams.config.loader import ConfigError, load, load_dir, parse
from hotline_streams.routing.models import OverflowRule
from hotline_streams.service_levels.models import AbandonTreatment

GOOD = """
tenant: acme
queues:
  billing:
    required_skills: [billing]
    service_level: {threshold_s: 30, target: 0.95, short_abandon_s: 3,
                    abandon_treatment: met-within-threshold, interval_s: 1800}
    ring_timeout_s: 12
    overflow:
      - {after_s: 60, required_skills: [billing-secondary]}
      - {after_s: 120, to_queue: general}
  general:
    required_skills: [general]
"""


def good() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(GOOD)
    return raw


def test_a_tenant_file_becomes_the_plain_models(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(GOOD)
    config = load(tmp_path / "acme.yaml")
    assert config.tenant == "acme"
    billing = config.queues["billing"]
    assert billing.required_skills == frozenset({"billing"})
    assert billing.settings.threshold_s == 30
    assert billing.settings.target == 0.95
    assert billing.settings.short_abandon_s == 3
    assert billing.settings.abandon_treatment is AbandonTreatment.MET_WITHIN_T
    assert billing.settings.interval_s == 1800
    assert billing.routing.ring_timeout_s == 12
    assert billing.routing.overflow == (
        OverflowRule(after_s=60, required_skills=frozenset({"billing-secondary"})),
        OverflowRule(after_s=120, required_skills=frozenset({"general"}), to_queue="general"),
    )


def test_defaults_are_design_md_s() -> None:
    general = parse(good()).queues["general"].settings
    assert (general.threshold_s, general.target, general.short_abandon_s, general.interval_s) \
        == (20.0, 0.80, 5.0, 900)
    assert general.abandon_treatment is AbandonTreatment.AGAINST


def test_an_unconfigured_queue_gets_default_settings() -> None:
    assert parse(good()).settings("other").threshold_s == 20.0


def test_load_dir_reads_one_tenant_per_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(GOOD.replace("tenant: acme", "tenant: bank"))
    assert sorted(load_dir(tmp_path)) == ["acme", "bank"]
    (tmp_path / "c.yaml").write_text(GOOD)
    with pytest.raises(ConfigError, match="configured twice") as err:
        load_dir(tmp_path)
    assert err.value.field == "tenant"


def _set(raw: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node: Any = raw
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    last = parts[-1]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return raw


_DELETE = object()


@pytest.mark.parametrize(("path", "value", "field", "reason"), [
    ("tenant", "Acme Corp", "tenant", "is not a name"),
    ("queues.billing.service_level.target", 1.5, "queues.billing.service_level.target",
     "target must be in"),
    ("queues.billing.service_level.threshold_s", 0, "queues.billing.service_level.threshold_s",
     "threshold_s must be > 0"),
    ("queues.billing.service_level.threshold_s", "20s",
     "queues.billing.service_level.threshold_s", "must be a number"),
    ("queues.billing.service_level.interval_s", 700, "queues.billing.service_level.interval_s",
     "must divide a day"),
    ("queues.billing.service_level.abandon_treatment", "sometimes",
     "queues.billing.service_level.abandon_treatment", "is not one of"),
    ("queues.billing.service_level.targt", 0.9, "queues.billing.service_level.targt",
     "unknown field"),
    ("queues.billing.required_skills", _DELETE, "queues.billing.required_skills", "is required"),
    ("queues.billing.required_skills", "billing", "queues.billing.required_skills",
     "must be a list"),
    ("queues.billing.ring_timeout_s", -1, "queues.billing.ring_timeout_s", "must be > 0"),
    ("queues.billing.overflow.1.after_s", 30, "queues.billing.overflow[1].after_s",
     "greater than the previous"),
    ("queues.billing.overflow.1.to_queue", "nowhere", "queues.billing.overflow[1].to_queue",
     "is not configured"),
    ("queues.billing.overflow.0.required_skills", _DELETE, "queues.billing.overflow[0]",
     "needs required_skills or to_queue"),
    ("queues", {}, "queues", "at least one queue"),
])
def test_bad_configuration_is_rejected_naming_the_field(path: str, value: Any, field: str,
                                                        reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(_set(good(), path, value), "acme.yaml")
    assert err.value.field == field
    assert reason in err.value.reason
    assert str(err.value).startswith(f"acme.yaml: {field}: ")


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("tenant: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as err:
        load(path)
    assert err.value.source == str(path)
