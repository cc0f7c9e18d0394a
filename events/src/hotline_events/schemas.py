"""JSON Schemas generated from the models, one file per type and major version.

The files in ``events/schemas`` are checked in so BI, other languages and the
compatibility check can read them without Python; a unit test fails when they no
longer match the models (run ``hotline-events schemas generate``).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import msgspec

from hotline_events.models import ALL_TYPES, EventModel

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def file_name(ce_type: str) -> str:
    """``hotline.call.offered.v1`` → ``hotline.call.offered.v1.json`` (`<type>.v<N>.json`)."""
    return f"{ce_type}.json"


def _clean_docs(node: Any) -> Any:
    # Class docstrings keep their source indentation; schemas should not.
    if isinstance(node, dict):
        return {k: (inspect.cleandoc(v) if k == "description" and isinstance(v, str)
                    else _clean_docs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_clean_docs(v) for v in node]
    return node


def schema_of(cls: type[EventModel]) -> dict[str, Any]:
    """The type's JSON Schema with its own struct as the root (nested structs in $defs)."""
    generated = msgspec.json.schema(cls)
    defs: dict[str, Any] = dict(generated.get("$defs", {}))
    root = defs.pop(cls.__name__)
    schema: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"urn:hotline:event:{cls.TYPE}",
        **root,
        "title": cls.TYPE,
        "x-struct": cls.__name__,
        "x-subject": cls.SUBJECT,
    }
    if defs:
        schema["$defs"] = defs
    return _clean_docs(schema)  # type: ignore[no-any-return]


def render(schema: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, trailing newline (clean diffs)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate_all() -> dict[str, str]:
    """File name → file text for every type."""
    return {file_name(cls.TYPE): render(schema_of(cls)) for cls in ALL_TYPES}


def write(directory: Path) -> list[str]:
    """Write every schema, remove files of types that no longer exist; returns changed names."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = generate_all()
    changed: list[str] = []
    for name, text in wanted.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    for path in directory.glob("*.json"):
        if path.name not in wanted:
            path.unlink()
            changed.append(path.name)
    return sorted(changed)


def stale(directory: Path) -> list[str]:
    """Problems with the checked-in schemas versus the models (empty = in sync)."""
    wanted = generate_all()
    problems: list[str] = []
    for name, text in sorted(wanted.items()):
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from the model")
    existing = {p.name for p in directory.glob("*.json")} if directory.exists() else set()
    problems += [f"{name}: no model defines it" for name in sorted(existing - set(wanted))]
    return problems


def load_dir(directory: Path) -> dict[str, dict[str, Any]]:
    """ce_type → schema, for every ``*.json`` in a directory (schemas or a release)."""
    return {p.name.removesuffix(".json"): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(directory.glob("*.json"))}
