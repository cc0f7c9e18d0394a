"""The recording key, the sealed file format and where a recording lives (pure).

A sealed recording is ``MAGIC | u16 id length | recording id | 12-byte nonce |
AES-GCM(ciphertext + tag)``; the header is the GCM associated data, so a file renamed
to another recording's id, or sealed with another key, does not open.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_ENV = "HOTLINE_RECORDING_KEY"  # base64 of 16, 24 or 32 bytes
KEY_FILE_ENV = "HOTLINE_RECORDING_KEY_FILE"  # the operator mounts the site's secret here
MAGIC = b"HLREC\x01"
NONCE_BYTES = 12
SUFFIX = ".wav.aesgcm"


class RecordingKeyMissing(RuntimeError):
    pass


class RecordingUnreadable(ValueError):
    pass


def _key_bytes(text: bytes, where: str) -> bytes:
    if len(text) in (16, 24, 32) and not text.strip().isascii():
        return text  # a raw key file
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise RecordingKeyMissing(f"{where} is not base64 (expected base64 of a 16, 24 or "
                                  "32-byte AES key)") from None
    if len(key) not in (16, 24, 32):
        raise RecordingKeyMissing(f"{where} decodes to {len(key)} bytes; an AES key has 16, 24 "
                                  "or 32")
    return key


def recording_key(env: Mapping[str, str] | None = None) -> bytes:
    """The AES key from ``HOTLINE_RECORDING_KEY`` or the file ``HOTLINE_RECORDING_KEY_FILE``."""
    env = os.environ if env is None else env
    if env.get(KEY_ENV):
        return _key_bytes(env[KEY_ENV].encode(), KEY_ENV)
    if env.get(KEY_FILE_ENV):
        path = Path(env[KEY_FILE_ENV])
        try:
            return _key_bytes(path.read_bytes(), f"{KEY_FILE_ENV} ({path})")
        except OSError as err:
            raise RecordingKeyMissing(f"{KEY_FILE_ENV} names {path}, which cannot be read: "
                                      f"{err.strerror}") from None
    raise RecordingKeyMissing(
        f"no recording key is set: put base64 of a 32-byte key in {KEY_ENV} (e.g. "
        f"`{KEY_ENV}=$(head -c32 /dev/urandom | base64)`) or a key file path in {KEY_FILE_ENV}")


def header(recording_id: str, nonce: bytes) -> bytes:
    rid = recording_id.encode()
    return MAGIC + struct.pack(">H", len(rid)) + rid + nonce


def seal(plaintext: bytes, key: bytes, recording_id: str, nonce: bytes) -> bytes:
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"a GCM nonce has {NONCE_BYTES} bytes")
    head = header(recording_id, nonce)
    return head + AESGCM(key).encrypt(nonce, plaintext, head)


def unseal(blob: bytes, key: bytes) -> tuple[str, bytes]:
    """(recording id, plaintext); ``RecordingUnreadable`` for a wrong key or a damaged file."""
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 2:
        raise RecordingUnreadable("not a sealed Hotline recording (bad magic)")
    (rid_len,) = struct.unpack(">H", blob[len(MAGIC):len(MAGIC) + 2])
    start = len(MAGIC) + 2
    rid = blob[start:start + rid_len]
    nonce = blob[start + rid_len:start + rid_len + NONCE_BYTES]
    head_len = start + rid_len + NONCE_BYTES
    if len(nonce) != NONCE_BYTES:
        raise RecordingUnreadable("truncated header")
    try:
        plain = AESGCM(key).decrypt(nonce, blob[head_len:], blob[:head_len])
    except InvalidTag:
        raise RecordingUnreadable("authentication failed: another key sealed it, or the file "
                                  "was changed") from None
    return rid.decode(), plain


def location(root: Path, tenant: str, recording_id: str, when: datetime) -> Path:
    """``root/tenant/YYYY/MM/DD/<id>.wav.aesgcm``: nothing about the caller in the path."""
    return root / tenant / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}" / f"{recording_id}{SUFFIX}"
