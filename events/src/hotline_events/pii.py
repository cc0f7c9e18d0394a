"""Personal data: where it may go, and the caller token that replaces it elsewhere.

The rule (see docs/bi-guide.md): caller numbers and names are `personal` fields and
travel only on topics classed `personal` (short retention, never read by BI). Every
other place identifies a caller by ``caller_token``, a keyed HMAC-SHA256 of the
normalised number; the key is the same at both sites so tokens join across sites,
and without the key a token cannot be turned back into a number by guessing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

KEY_ENV = "HOTLINE_CALLER_TOKEN_KEY"
TOKEN_PREFIX = "ct1_"  # bump when the normalisation or the algorithm changes
PII_CLASSES = ("none", "tokenised", "personal")
_MIN_KEY_BYTES = 16
_SEPARATORS = re.compile(r"[\s().\-/]")
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


class CallerTokenKeyMissing(RuntimeError):
    pass


def normalise_number(number: str) -> str:
    """Strip formatting (spaces, dashes, dots, brackets) and turn a ``00`` prefix into ``+``.

    National formats are not rewritten to E.164: that needs the trunk's country; media
    nodes pass the number as the carrier presents it (normally E.164).
    """
    compact = _SEPARATORS.sub("", number.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _NUMBER.match(compact):
        raise ValueError(f"{number!r} is not a phone number (3-20 digits, optional +)")
    return compact


def token_key(env: Mapping[str, str] | None = None) -> bytes:
    value = (os.environ if env is None else env).get(KEY_ENV, "")
    if not value:
        raise CallerTokenKeyMissing(
            f"{KEY_ENV} is not set: caller tokens cannot be computed, so no event with a "
            "caller can be published. Set it to the same secret (16+ bytes) at every site.")
    key = value.encode()
    if len(key) < _MIN_KEY_BYTES:
        raise CallerTokenKeyMissing(f"{KEY_ENV} is {len(key)} bytes; use at least "
                                    f"{_MIN_KEY_BYTES} so tokens cannot be brute-forced")
    return key


def caller_token(number: str, key: bytes | None = None) -> str:
    """``ct1_`` + HMAC-SHA256(key, normalised number), hex. The key defaults to the env's."""
    digest = hmac.new(key if key is not None else token_key(),
                      normalise_number(number).encode(), hashlib.sha256).hexdigest()
    return TOKEN_PREFIX + digest


def _walk(node: Any, schema: Mapping[str, Any], path: str, seen: frozenset[str]) -> Iterator[
        tuple[str, str]]:
    if not isinstance(node, Mapping):
        return
    if "x-pii" in node:
        yield path, str(node["x-pii"])
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name not in seen:
            yield from _walk(schema.get("$defs", {}).get(name, {}), schema, path, seen | {name})
    for key, sub in node.get("properties", {}).items():
        yield from _walk(sub, schema, f"{path}.{key}", seen)
    for combinator in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(combinator, []):
            yield from _walk(sub, schema, path, seen)
    if "items" in node:
        yield from _walk(node["items"], schema, f"{path}[]", seen)


def marked_fields(schema: Mapping[str, Any]) -> dict[str, str]:
    """JSON path → PII mark (``personal`` | ``tokenised``) of every marked field."""
    return dict(_walk(schema, schema, "$", frozenset()))


def required_class(schema: Mapping[str, Any]) -> str:
    """The least PII class a topic needs to carry this type."""
    marks = set(marked_fields(schema).values())
    if "personal" in marks:
        return "personal"
    if "tokenised" in marks:
        return "tokenised"
    return "none"


def violations(topic: str, pii_class: str, schemas: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Why a topic of ``pii_class`` must not carry these types (empty = allowed)."""
    rank = {name: i for i, name in enumerate(PII_CLASSES)}
    problems = []
    for ce_type, schema in schemas.items():
        needed = required_class(schema)
        if rank[needed] > rank.get(pii_class, -1):
            fields = ", ".join(p for p, m in marked_fields(schema).items() if m == needed)
            problems.append(f"{topic} is classed {pii_class!r} but carries {ce_type}, whose "
                            f"field(s) {fields} are {needed}: move the type to a {needed} "
                            "topic or drop the field")
    return problems
