"""ContactCenterQueue objects → the streams' tenant files, proven with the streams' own
loader (hotline_streams.config.loader), not by restating its format."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline_operators.queues.logic import (
    TENANTS_CONFIG_MAP,
    config_map,
    problems,
    queue_status,
    render_namespace,
    render_tenant,
    status_changed,
    target_text,
    tenant_document,
)
from hotline_operators.queues.models import QueueSpec
from hotline_streams.config.loader import ConfigError, load_dir, parse
from hotline_streams.service_levels.models import AbandonTreatment


def queue(name: str, tenant: str = "acme", queue_name: str | None = None,
          **spec: Any) -> dict[str, Any]:
    """A ContactCenterQueue as the API server returns it (CRD defaults applied)."""
    body: dict[str, Any] = {"tenant": tenant, "queue": queue_name or name,
                            "skills": [queue_name or name], "ringTimeoutSeconds": 15}
    body.update(spec)
    return {"apiVersion": "hotline.dev/v1alpha1", "kind": "ContactCenterQueue",
            "metadata": {"name": name, "namespace": "ns", "generation": 1}, "spec": body}


DISPUTES = queue("disputes", skills=["billing", "disputes"],
                 serviceLevel={"thresholdSeconds": 30, "targetPercent": 95,
                               "shortAbandonSeconds": 4, "abandonTreatment": "ignored"},
                 overflow=[{"afterSeconds": 60, "skills": ["billing"]},
                           {"afterSeconds": 120, "skills": ["general"], "toQueue": "general"}])
GENERAL = queue("general", ringTimeoutSeconds=20)


def specs(*bodies: dict[str, Any]) -> list[QueueSpec]:
    return [QueueSpec.from_resource(b) for b in bodies]


def test_two_queues_render_into_a_file_the_streams_loader_accepts() -> None:
    text = render_tenant("acme", specs(DISPUTES, GENERAL))
    config = parse(yaml.safe_load(text), "acme.yaml")
    assert config.tenant == "acme"
    assert set(config.queues) == {"disputes", "general"}
    disputes = config.queues["disputes"]
    assert disputes.required_skills == {"billing", "disputes"}
    sl = disputes.settings
    assert (sl.threshold_s, sl.target, sl.short_abandon_s) == (30, 0.95, 4)
    assert sl.abandon_treatment is AbandonTreatment.IGNORED
    rules = disputes.routing.overflow
    assert [(r.after_s, set(r.required_skills), r.to_queue) for r in rules] == [
        (60, {"billing"}, None), (120, {"general"}, "general")]
    assert disputes.routing.ring_timeout_s == 15
    assert config.queues["general"].routing.ring_timeout_s == 20


def test_a_queue_without_service_level_gets_the_streams_defaults() -> None:
    config = parse(tenant_document("acme", specs(GENERAL)))
    sl = config.queues["general"].settings
    assert (sl.threshold_s, sl.target, sl.short_abandon_s) == (20, 0.8, 5)
    assert sl.abandon_treatment is AbandonTreatment.AGAINST
    assert target_text(specs(GENERAL)[0]) == "80% in 20s"
    assert target_text(specs(DISPUTES)[0]) == "95% in 30s"


def test_the_config_map_mounted_as_a_directory_loads_every_tenant(tmp_path: Path) -> None:
    other = queue("sales", tenant="globex")
    rendering = render_namespace(specs(DISPUTES, GENERAL, other), {})
    manifest = config_map("ns", rendering.data)
    assert manifest["metadata"]["name"] == TENANTS_CONFIG_MAP
    for key, text in manifest["data"].items():
        (tmp_path / key).write_text(text)
    configs = load_dir(tmp_path)
    assert set(configs) == {"acme", "globex"}
    assert set(configs["acme"].queues) == {"disputes", "general"}
    assert set(configs["globex"].queues) == {"sales"}


INVALID = [
    ("overflow to a missing queue",
     queue("cards", overflow=[{"afterSeconds": 30, "skills": ["x"], "toQueue": "nope"}]),
     "overflow[0].toQueue", "queues.cards.overflow[0].to_queue"),
    ("overflow to itself",
     queue("cards", overflow=[{"afterSeconds": 30, "skills": ["x"], "toQueue": "cards"}]),
     "overflow[0].toQueue", "queues.cards.overflow[0].to_queue"),
    ("overflow times not increasing",
     queue("cards", overflow=[{"afterSeconds": 60, "skills": ["x"]},
                              {"afterSeconds": 60, "skills": ["y"]}]),
     "overflow[1].afterSeconds", "queues.cards.overflow[1].after_s"),
    ("a skill the streams cannot name",
     queue("cards", skills=["Cards Gold"]), "skills[0]", "queues.cards.required_skills[0]"),
    ("a skill too long", queue("cards", skills=["x" * 64]), "skills[0]",
     "queues.cards.required_skills[0]"),
]


@pytest.mark.parametrize(("case", "body", "crd_field", "loader_field"), INVALID,
                         ids=[c[0] for c in INVALID])
def test_what_the_crd_cannot_check_is_found_as_the_loader_would(
        case: str, body: dict[str, Any], crd_field: str, loader_field: str) -> None:
    found = problems(specs(body, GENERAL))
    assert [p.field for p in found] == [crd_field], case
    # Parity: the loader refuses the same file, at the same field.
    with pytest.raises(ConfigError) as refused:
        parse(tenant_document("acme", specs(body, GENERAL)))
    assert refused.value.field == loader_field


def test_the_same_queue_twice_in_a_tenant_is_a_problem_of_both_objects() -> None:
    twin = queue("general-copy", queue_name="general")
    found = problems(specs(GENERAL, twin))
    assert sorted(p.object_name for p in found) == ["general", "general-copy"]
    assert all(p.field == "queue" for p in found)
    assert problems(specs(GENERAL, queue("general-b", tenant="globex", queue_name="general"))) \
        == []


def test_an_invalid_tenant_keeps_its_last_good_file_and_others_move_on() -> None:
    good = render_namespace(specs(DISPUTES, GENERAL, queue("sales", tenant="globex")), {})
    broken = copy.deepcopy(DISPUTES)
    broken["spec"]["overflow"][1]["toQueue"] = "gone"
    updated_sales = queue("sales", tenant="globex", ringTimeoutSeconds=30)
    after = render_namespace(specs(broken, GENERAL, updated_sales), good.data)
    assert after.data["acme.yaml"] == good.data["acme.yaml"]  # last good kept
    assert after.tenants["acme"].kept_last_good
    assert parse(yaml.safe_load(after.data["globex.yaml"])).queues["sales"].routing \
        .ring_timeout_s == 30
    # A tenant whose last queue is gone is dropped; a new invalid tenant writes nothing.
    only_bad = render_namespace(specs(queue("x", tenant="initech", skills=["Bad"])), good.data)
    assert only_bad.data == {}
    assert not only_bad.tenants["initech"].kept_last_good


def test_the_status_names_the_problem_on_the_guilty_queue_and_the_hold_on_the_others() -> None:
    broken = copy.deepcopy(DISPUTES)
    broken["spec"]["overflow"][1]["toQueue"] = "gone"
    qs = specs(broken, GENERAL)
    current = {"acme.yaml": "tenant: acme\n"}
    rendering = render_namespace(qs, current)
    now = "2026-11-23T15:00:00Z"
    guilty = queue_status(qs[0], rendering.tenants["acme"], 1, now)["conditions"][0]
    assert (guilty["status"], guilty["reason"]) == ("False", "Invalid")
    assert "spec.overflow[1].toQueue" in guilty["message"]
    assert "'gone' does not exist in tenant 'acme'" in guilty["message"]
    assert "keeps its last good config" in guilty["message"]
    bystander = queue_status(qs[1], rendering.tenants["acme"], 1, now)["conditions"][0]
    assert (bystander["status"], bystander["reason"]) == ("False", "TenantInvalid")
    fine = render_namespace(specs(DISPUTES, GENERAL), {})
    ok = queue_status(qs[0], fine.tenants["acme"], 1, now)
    assert ok["conditions"][0]["status"] == "True"
    assert (ok["targetText"], ok["configKey"]) == ("95% in 30s", "acme.yaml")


def test_a_status_differing_only_in_transition_time_is_unchanged() -> None:
    tenant = render_namespace(specs(GENERAL), {}).tenants["acme"]
    spec = specs(GENERAL)[0]
    first = queue_status(spec, tenant, 1, "2026-11-23T15:00:00Z")
    later = queue_status(spec, tenant, 1, "2026-11-23T16:00:00Z")
    assert not status_changed(first, later)
    assert status_changed(first, queue_status(spec, tenant, 2, "2026-11-23T16:00:00Z"))
    assert status_changed({}, first)
