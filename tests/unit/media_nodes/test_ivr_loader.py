"""Flow YAML → models; a bad field is reported by its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline_media_nodes.ivr.loader import FlowError, load_flow, parse_flow
from hotline_media_nodes.ivr.models import Flow, Target

FLOWS = Path(__file__).parent / "flows"


def raw() -> dict[str, Any]:
    data = yaml.safe_load((FLOWS / "acme.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_loads_menus_queues_services_and_entry_points(acme: Flow) -> None:
    assert acme.tenant == "acme-bank"
    assert acme.menus["main"].options["1"] == Target("menu", "billing")
    assert acme.menus["main"].timeout_seconds == 4.0
    assert acme.menus["billing"].max_retries == 2  # the default
    assert acme.queues["disputes"].skills == ("billing", "disputes")
    assert acme.queues["disputes"].priority == 2
    assert acme.services["balance"].then == Target("hangup")
    assert acme.agent_target == Target("queue", "general")
    vip = acme.entry_for("800199")
    assert vip is not None and vip.caller_tier == "vip"
    assert acme.entry_for("999") is None


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d.pop("tenant"), "tenant"),
    (lambda d: d.update(tenant="Acme Bank"), "tenant"),
    (lambda d: d["menus"]["main"]["options"].update({"1": "menu:nowhere"}),
     "menus.main.options.1"),
    (lambda d: d["menus"]["main"]["options"].update({"0": "queue:cards"}),
     "menus.main.options.0"),
    (lambda d: d["menus"]["main"]["options"].update({"12": "queue:cards"}),
     "menus.main.options.12"),
    (lambda d: d["menus"]["main"]["options"].update({"4": "queues:cards"}),
     "menus.main.options.4"),
    (lambda d: d["menus"]["billing"].update(prompt="nope"), "menus.billing.prompt"),
    (lambda d: d["menus"]["billing"].update(timeout_seconds="soon"),
     "menus.billing.timeout_seconds"),
    (lambda d: d["menus"]["billing"].update(colour="red"), "menus.billing.colour"),
    (lambda d: d["queues"]["cards"].update(priority=12), "queues.cards.priority"),
    (lambda d: d["queues"]["cards"].update(skills="cards"), "queues.cards.skills"),
    (lambda d: d["queues"]["cards"].update(hold_prompt="music"), "queues.cards.hold_prompt"),
    (lambda d: d["services"]["balance"].update(then="menu:gone"), "services.balance.then"),
    (lambda d: d["entry_points"][1].update(number="eight"), "entry_points[1].number"),
    (lambda d: d["entry_points"][2].update(number="800100"), "entry_points[2].number"),
    (lambda d: d["entry_points"][2].update(caller_tier="gold"), "entry_points[2].caller_tier"),
    (lambda d: d.update(agent="menu:main"), "agent"),
    (lambda d: d.update(prompts=["welcome"]), "prompts"),
])
def test_a_bad_field_is_named(mutate: Any, field: str) -> None:
    data = raw()
    mutate(data)
    with pytest.raises(FlowError) as caught:
        parse_flow(data, "acme.yaml")
    assert caught.value.field == field
    assert str(caught.value).startswith(f"acme.yaml: {field}: ")


def test_unparseable_yaml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("tenant: [unclosed\n")
    with pytest.raises(FlowError, match=r"bad\.yaml: \(file\): not valid YAML"):
        load_flow(bad)


def test_the_post_call_survey_is_optional_and_checked() -> None:
    assert parse_flow(raw()).survey is None
    data = raw()
    data["prompts"].update(survey="Press one to five.", thanks="Thank you.")
    data["survey"] = {"question_id": "satisfaction", "prompt": "survey", "thanks": "thanks"}
    survey = parse_flow(data).survey
    assert survey is not None
    assert (survey.question_id, survey.prompt, survey.thanks, survey.timeout_seconds) == (
        "satisfaction", "survey", "thanks", 8.0)
    data["survey"]["thanks"] = "bye"
    with pytest.raises(FlowError) as err:
        parse_flow(data)
    assert err.value.field == "survey.thanks"
    data["survey"] = {"question_id": "satisfaction", "prompt": "survey"}
    with pytest.raises(FlowError) as err:
        parse_flow(data)
    assert err.value.field == "survey.thanks"
