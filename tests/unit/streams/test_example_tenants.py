"""The example tenant configuration loads and matches the media nodes' example flow."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hotline_streams.config.loader import load_dir

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "streams/config-examples"
FLOWS = [ROOT / "tests/integration/media_nodes/flows/ivr.yaml",
         ROOT / "media-nodes/flows/demo-bank.yaml"]


@pytest.mark.parametrize("flow_path", FLOWS, ids=lambda p: p.name)
def test_examples_load_and_cover_the_flows_queues_with_its_skills(flow_path: Path) -> None:
    tenants = load_dir(EXAMPLES)
    flow = yaml.safe_load(flow_path.read_text())
    config = tenants[flow["tenant"]]
    flow_queues = {name: frozenset(q["skills"]) for name, q in flow["queues"].items()}
    assert {name: q.required_skills for name, q in config.queues.items()} == flow_queues
