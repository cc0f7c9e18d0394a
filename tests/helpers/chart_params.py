"""The chart README's parameter table, derived from values.yaml.

    uv run python tests/helpers/chart_params.py   # print the table to paste

The test suite checks the README's table against this, so values and docs agree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "hotline"


def _descriptions(values_text: str) -> dict[str, str]:
    """`# -- text` comments, keyed by the dotted path of the value below them."""
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: str | None = None
    for line in values_text.splitlines():
        comment = re.match(r"^\s*# -- (.*)$", line)
        if comment:
            pending = comment.group(1)
            continue
        key = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9]*):", line)
        if not key:
            continue
        indent = len(key.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key.group(2)))
        if pending is not None:
            found[".".join(k for _, k in stack)] = pending
            pending = None
    return found


def rows() -> list[tuple[str, str, str]]:
    text = (CHART / "values.yaml").read_text()
    values = yaml.safe_load(text)
    described = _descriptions(text)
    out: list[tuple[str, str, str]] = []

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and node and prefix not in described:
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
            return
        out.append((prefix, json.dumps(node), described.get(prefix, "")))

    walk("", values)
    return out


def table() -> str:
    lines = ["| Parameter | Default | Description |", "|---|---|---|"]
    lines += [f"| `{k}` | `{d}` | {text} |" for k, d, text in rows()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
