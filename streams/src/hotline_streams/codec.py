"""State ↔ bytes for changelog-backed tables (msgpack of the plain dataclasses)."""

from __future__ import annotations

from typing import TypeVar

import msgspec

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()


def dump(value: object) -> bytes:
    return _encoder.encode(value)


def load(data: bytes, kind: type[T]) -> T:
    return msgspec.msgpack.decode(data, type=kind)
