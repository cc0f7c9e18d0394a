"""Files: seal a finished recorder WAV into the store, open a sealed recording."""

from __future__ import annotations

import hashlib
import os
import tempfile
import wave
from datetime import datetime
from pathlib import Path

from hotline_media_nodes.recording.logic import NONCE_BYTES, location, seal, unseal
from hotline_media_nodes.recording.models import RecordingStore, StoredRecording


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())


def wav_closed(path: Path) -> bool:
    """Whether the recorder has closed the WAV: its RIFF size matches the file's.

    pjmedia removes a conference port (and so closes a recorder's file) on the bridge's
    next clock tick, not when the recorder object is destroyed.
    """
    try:
        with path.open("rb") as f:
            head = f.read(8)
        size = path.stat().st_size
    except OSError:
        return False
    return (len(head) == 8 and head[:4] == b"RIFF"
            and int.from_bytes(head[4:8], "little") == size - 8 and size > 44)


def store(spooled: Path, store_: RecordingStore, tenant: str, recording_id: str,
          when: datetime) -> StoredRecording:
    """Seal ``spooled`` (the recorder's WAV) into the store, then delete the plaintext."""
    try:
        duration = wav_seconds(spooled)
        sealed = seal(spooled.read_bytes(), store_.key, recording_id, os.urandom(NONCE_BYTES))
        target = location(store_.root, tenant, recording_id, when)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(sealed)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, target)
    finally:
        spooled.unlink(missing_ok=True)
    return StoredRecording(recording_id, target, duration, hashlib.sha256(sealed).hexdigest(),
                           len(sealed))


def open_sealed(path: Path, key: bytes, out: Path) -> str:
    """Decrypt ``path`` into ``out`` (a WAV); returns the recording id."""
    recording_id, plain = unseal(path.read_bytes(), key)
    out.write_bytes(plain)
    return recording_id
