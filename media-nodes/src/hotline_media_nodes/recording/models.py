"""Plain data of recordings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RecordingStore:
    """Where sealed recordings go, and the key that seals them."""

    root: Path
    key: bytes
    spool: Path  # the recorder's plaintext WAV while the call lasts (memory-backed if possible)


@dataclass(frozen=True)
class StoredRecording:
    recording_id: str
    path: Path
    duration_seconds: float
    sha256: str  # of the sealed file
    size_bytes: int
