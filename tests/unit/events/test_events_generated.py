"""The checked-in schemas and docs match what the models and catalog generate."""

from __future__ import annotations

from hotline_events import paths, schemas
from hotline_events.catalog import load
from hotline_events.cli import main
from hotline_events.docs import render


def test_checked_in_schemas_match_the_models() -> None:
    assert schemas.stale(paths.SCHEMAS_DIR) == [], (
        "run `uv run hotline-events schemas generate` and commit events/schemas")


def test_checked_in_topics_doc_is_current() -> None:
    assert paths.TOPICS_DOC.read_text(encoding="utf-8") == render(load()), (
        "run `uv run hotline-events docs generate` and commit events/docs/topics.md")


def test_schema_files_are_named_by_type_and_version() -> None:
    names = sorted(p.name for p in paths.SCHEMAS_DIR.glob("*.json"))
    assert names and all(n.startswith("hotline.") and ".v1.json" in n for n in names)


def test_generation_is_stable_sorted_and_newline_terminated() -> None:
    generated = schemas.generate_all()
    assert generated == schemas.generate_all()
    text = generated["hotline.call.offered.v1.json"]
    assert text.endswith("}\n") and '  "$id": "urn:hotline:event:hotline.call.offered.v1"' in text


def test_cli_check_modes_pass_on_the_tree() -> None:
    assert main(["schemas", "generate", "--check"]) == 0
    assert main(["docs", "generate", "--check"]) == 0
    assert main(["catalog", "check"]) == 0
