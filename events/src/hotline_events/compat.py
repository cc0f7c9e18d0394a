"""Schema compatibility against the last release: pure logic over plain JSON data.

Breaking (a consumer built on the release, or a replay of released events, would
fail): a released type removed, a required field removed, a field's type changed,
a new required field (or an optional one made required), an enum value removed, a
free value restricted to an enum. Compatible: new types, new optional fields, new
enum values, relaxed constraints.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Schema = Mapping[str, Any]
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True, order=True)
class Breaking:
    event_type: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.event_type} {self.field}: {self.reason}"


def _resolve(node: Any, root: Schema) -> Any:
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        name = node["$ref"].removeprefix("#/$defs/")
        node = root.get("$defs", {}).get(name, {})
    return node


def _members(node: Any, root: Schema) -> list[Any]:
    node = _resolve(node, root)
    if isinstance(node, Mapping) and "anyOf" in node:
        return [m for sub in node["anyOf"] for m in _members(sub, root)]
    return [node]


def _types(node: Any, root: Schema) -> set[str]:
    out: set[str] = set()
    for member in _members(node, root):
        if not isinstance(member, Mapping):
            continue
        if "type" in member:
            kinds = member["type"]
            out |= set(kinds) if isinstance(kinds, list) else {kinds}
        elif "enum" in member or "const" in member:
            values = member.get("enum", [member.get("const")])
            out |= {"null" if v is None else "boolean" if isinstance(v, bool) else
                    "integer" if isinstance(v, int) else "number" if isinstance(v, float)
                    else "string" for v in values}
        else:
            out.add("any")
    return out


def _enum(node: Any, root: Schema) -> set[Any] | None:
    values: set[Any] = set()
    for member in _members(node, root):
        if isinstance(member, Mapping) and ("enum" in member or "const" in member):
            values |= set(member.get("enum", [member.get("const")]))
        elif isinstance(member, Mapping) and member.get("type") != "null":
            return None  # an unrestricted member
    return values or None


def _only(node: Any, root: Schema, kind: str) -> Any:
    """The single non-null member of ``kind`` (e.g. the struct of an optional struct)."""
    found = [m for m in _members(node, root) if isinstance(m, Mapping) and m.get("type") == kind]
    return found[0] if len(found) == 1 else None


def _compare(ce_type: str, path: str, old: Any, old_root: Schema, new: Any,
             new_root: Schema) -> list[Breaking]:
    problems: list[Breaking] = []
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if "any" not in old_types and old_types != new_types:
        problems.append(Breaking(ce_type, path, f"type changed from {'|'.join(sorted(old_types))}"
                                                f" to {'|'.join(sorted(new_types))}"))
        return problems
    old_enum, new_enum = _enum(old, old_root), _enum(new, new_root)
    if old_enum is not None and new_enum is not None and old_enum - new_enum:
        removed = ", ".join(sorted(map(str, old_enum - new_enum)))
        problems.append(Breaking(ce_type, path, f"enum value(s) removed: {removed}"))
    if old_enum is None and new_enum is not None:
        problems.append(Breaking(ce_type, path, "a free value is now restricted to an enum"))
    old_obj, new_obj = _only(old, old_root, "object"), _only(new, new_root, "object")
    if old_obj is not None and new_obj is not None:
        problems += _compare_object(ce_type, path, old_obj, old_root, new_obj, new_root)
    old_arr, new_arr = _only(old, old_root, "array"), _only(new, new_root, "array")
    if old_arr is not None and new_arr is not None and "items" in old_arr and "items" in new_arr:
        problems += _compare(ce_type, f"{path}[]", old_arr["items"], old_root, new_arr["items"],
                             new_root)
    return problems


def _compare_object(ce_type: str, path: str, old: Schema, old_root: Schema, new: Schema,
                    new_root: Schema) -> list[Breaking]:
    problems: list[Breaking] = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    for name, old_prop in old_props.items():
        where = f"{path}.{name}"
        if name not in new_props:
            if name in old_req:
                problems.append(Breaking(ce_type, where, "required field removed"))
            continue
        problems += _compare(ce_type, where, old_prop, old_root, new_props[name], new_root)
    for name in sorted(new_req - old_req):
        reason = "optional field became required" if name in old_props else "new required field"
        problems.append(Breaking(ce_type, f"{path}.{name}", reason))
    return problems


def compare(released: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[Breaking]:
    """Every breaking difference from ``released`` to ``current`` (ce_type → schema)."""
    problems: list[Breaking] = []
    for ce_type, old in sorted(released.items()):
        new = current.get(ce_type)
        if new is None:
            problems.append(Breaking(ce_type, "$", "released type removed (publish a new major "
                                                   "version next to it instead)"))
            continue
        problems += _compare(ce_type, "$", old, old, new, new)
    return sorted(problems)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(p) for p in name.split("."))


def releases(released_dir: Path) -> list[str]:
    """Released versions, oldest first."""
    if not released_dir.exists():
        return []
    return sorted((p.name for p in released_dir.iterdir() if p.is_dir() and _VERSION.match(p.name)),
                  key=_version_key)


def latest_release(released_dir: Path) -> Path | None:
    versions = releases(released_dir)
    return released_dir / versions[-1] if versions else None


def release(schemas_dir: Path, released_dir: Path, version: str) -> Path:
    """Snapshot the current schemas as ``released/<version>`` (refuses to overwrite)."""
    if not _VERSION.match(version):
        raise ValueError(f"release version {version!r} is not MAJOR.MINOR.PATCH")
    latest = releases(released_dir)
    if latest and _version_key(version) <= _version_key(latest[-1]):
        raise ValueError(f"release {version} is not newer than the last release {latest[-1]}")
    target = released_dir / version
    target.mkdir(parents=True)
    for path in sorted(schemas_dir.glob("*.json")):
        shutil.copyfile(path, target / path.name)
    return target
