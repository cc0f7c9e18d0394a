"""The example tenant configuration loads and matches the media nodes' example flow."""

from __future__ import annotations

from pathlib import Path

import yaml

from hotline_streams.config.loader import load_dir

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "streams/config/examples"
FLOW = ROOT / "tests/integration/media_nodes/flows/ivr.yaml"


def test_examples_load_and_cover_the_flows_queues_with_its_skills() -> None:
    tenants = load_dir(EXAMPLES)
    flow = yaml.safe_load(FLOW.read_text())
    config = tenants[flow["tenant"]]
    flow_queues = {name: frozenset(q["skills"]) for name, q in flow["queues"].items()}
    assert {name: q.required_skills for name, q in config.queues.items()} == flow_queues
