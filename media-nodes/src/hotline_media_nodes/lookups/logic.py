"""Building a lookup's URL and reading its answer (pure)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hotline_media_nodes.ivr.models import LookupSpec


class LookupFailed(RuntimeError):
    """Why a lookup gave no answer (said to the SRE; the caller hears the fallback)."""


def lookup_url(spec: LookupSpec, digits: str) -> str:
    return spec.url.replace("{digits}", quote(digits, safe=""))


def answer_of(body: bytes, field: str) -> str:
    """The ``field`` (dotted path) of a JSON answer, as text."""
    try:
        value: Any = json.loads(body)
    except ValueError as err:
        raise LookupFailed(f"answer is not JSON ({err})") from None
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            raise LookupFailed(f"answer has no field {field!r}")
        value = value[part]
    if isinstance(value, dict | list) or value is None:
        raise LookupFailed(f"field {field!r} is not a plain value")
    return str(value).lower() if isinstance(value, bool) else str(value)
