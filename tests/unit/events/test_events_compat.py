"""The compatibility check catches breaking changes made in a temp copy."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hotline_events import compat, paths, schemas
from hotline_events.cli import main

Schema = dict[str, Any]
ANSWERED = "hotline.call.answered.v1"


@pytest.fixture()
def tree(tmp_path: Path) -> tuple[Path, Path]:
    current = tmp_path / "schemas"
    released = tmp_path / "released"
    shutil.copytree(paths.SCHEMAS_DIR, current)
    compat.release(current, released, "1.0.0")
    return current, released


def _edit(directory: Path, ce_type: str, change: Callable[[Schema], None]) -> None:
    path = directory / f"{ce_type}.json"
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(schemas.render(schema))


def _check(current: Path, released: Path) -> list[str]:
    latest = compat.latest_release(released)
    assert latest is not None
    return [str(p) for p in compat.compare(schemas.load_dir(latest), schemas.load_dir(current))]


def test_real_tree_is_compatible_with_the_last_release() -> None:
    latest = compat.latest_release(paths.RELEASED_DIR)
    assert latest is not None, "events/released/ needs at least the initial release"
    assert compat.compare(schemas.load_dir(latest), schemas.load_dir(paths.SCHEMAS_DIR)) == []
    assert main(["compat"]) == 0


def test_unchanged_copy_is_compatible(tree: tuple[Path, Path]) -> None:
    assert _check(*tree) == []


def _remove_required(s: Schema) -> None:
    del s["properties"]["wait_seconds"]
    s["required"].remove("wait_seconds")


def _change_type(s: Schema) -> None:
    s["properties"]["wait_seconds"] = {"type": "string"}


def _add_required(s: Schema) -> None:
    s["properties"]["skill_group"] = {"type": "string"}
    s["required"].append("skill_group")


def _make_required(s: Schema) -> None:
    s["required"].append("caller_tier")


def _remove_enum_value(s: Schema) -> None:
    s["properties"]["caller_tier"]["enum"].remove("vip")


def _nested_type(s: Schema) -> None:
    s["$defs"]["SkillLevel"]["properties"]["proficiency"]["type"] = "string"


@pytest.mark.parametrize(("ce_type", "change", "expected"), [
    (ANSWERED, _remove_required, f"{ANSWERED} $.wait_seconds: required field removed"),
    (ANSWERED, _change_type, f"{ANSWERED} $.wait_seconds: type changed from number to string"),
    (ANSWERED, _add_required, f"{ANSWERED} $.skill_group: new required field"),
    ("hotline.call.queued.v1", _make_required,
     "hotline.call.queued.v1 $.caller_tier: optional field became required"),
    ("hotline.call.queued.v1", _remove_enum_value,
     "hotline.call.queued.v1 $.caller_tier: enum value(s) removed: vip"),
    ("hotline.agent.logged-in.v1", _nested_type,
     "hotline.agent.logged-in.v1 $.skills[].proficiency: type changed from integer to string"),
])
def test_breaking_change_is_caught(tree: tuple[Path, Path], ce_type: str,
                                   change: Callable[[Schema], None], expected: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    current, released = tree
    _edit(current, ce_type, change)
    assert _check(current, released) == [expected]
    assert main(["compat", "--schemas", str(current), "--released", str(released)]) == 1
    assert f"BREAKING {expected}" in capsys.readouterr().out


def test_removed_type_is_caught(tree: tuple[Path, Path]) -> None:
    current, released = tree
    (current / f"{ANSWERED}.json").unlink()
    assert _check(current, released) == [
        f"{ANSWERED} $: released type removed (publish a new major version next to it instead)"]


def test_compatible_changes_pass(tree: tuple[Path, Path]) -> None:
    current, released = tree

    def add_optional(s: Schema) -> None:
        s["properties"]["transfer_count"] = {"type": "integer", "default": 0}

    def add_enum_value(s: Schema) -> None:
        s["properties"]["caller_tier"]["enum"].append("platinum")

    _edit(current, ANSWERED, add_optional)
    _edit(current, "hotline.call.queued.v1", add_enum_value)
    (current / "hotline.call.answered.v2.json").write_text(
        (current / f"{ANSWERED}.json").read_text())
    assert _check(current, released) == []


def test_release_refuses_an_older_or_same_version(tree: tuple[Path, Path]) -> None:
    current, released = tree
    with pytest.raises(ValueError, match="not newer"):
        compat.release(current, released, "1.0.0")
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        compat.release(current, released, "v2")
    compat.release(current, released, "1.10.0")
    assert compat.releases(released) == ["1.0.0", "1.10.0"]
