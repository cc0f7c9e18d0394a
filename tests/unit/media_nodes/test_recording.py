"""Recording keys, the sealed format and the store (files in a temp dir, no servers)."""

from __future__ import annotations

import base64
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline_media_nodes.recording import adapters, logic
from hotline_media_nodes.recording.models import RecordingStore

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def test_the_key_comes_from_the_environment_or_the_mounted_file(tmp_path: Path) -> None:
    b64 = base64.b64encode(KEY).decode()
    assert logic.recording_key({logic.KEY_ENV: b64}) == KEY
    key_file = tmp_path / "key"
    key_file.write_text(b64 + "\n")
    assert logic.recording_key({logic.KEY_FILE_ENV: str(key_file)}) == KEY
    raw = tmp_path / "raw"
    raw.write_bytes(b"\xff" * 32)
    assert logic.recording_key({logic.KEY_FILE_ENV: str(raw)}) == b"\xff" * 32


@pytest.mark.parametrize(("env", "says"), [
    ({}, "no recording key is set"),
    ({logic.KEY_ENV: "not base64!"}, "is not base64"),
    ({logic.KEY_ENV: base64.b64encode(b"short").decode()}, "decodes to 5 bytes"),
    ({logic.KEY_FILE_ENV: "/nonexistent/key"}, "cannot be read"),
])
def test_a_missing_or_bad_key_is_a_clear_error(env: dict[str, str], says: str) -> None:
    with pytest.raises(logic.RecordingKeyMissing, match=says):
        logic.recording_key(env)


def test_sealed_opens_only_with_its_key_and_untouched() -> None:
    blob = logic.seal(b"RIFF audio", KEY, "r-1", b"\x00" * 12)
    assert logic.unseal(blob, KEY) == ("r-1", b"RIFF audio")
    assert b"RIFF audio" not in blob
    with pytest.raises(logic.RecordingUnreadable, match="another key"):
        logic.unseal(blob, OTHER)
    renamed = blob.replace(b"r-1", b"r-2", 1)  # the id is authenticated with the audio
    with pytest.raises(logic.RecordingUnreadable):
        logic.unseal(renamed, KEY)
    with pytest.raises(logic.RecordingUnreadable, match="bad magic"):
        logic.unseal(b"RIFF....", KEY)


def test_location_holds_nothing_about_the_caller() -> None:
    when = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert logic.location(Path("/rec"), "acme-bank", "r-1", when) == Path(
        "/rec/acme-bank/2026/11/23/r-1.wav.aesgcm")


def test_store_seals_the_spooled_wav_and_removes_the_plaintext(tmp_path: Path) -> None:
    spool = tmp_path / "spool.wav"
    with wave.open(str(spool), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x01\x02" * 8000 * 3)  # 3 s
    store = RecordingStore(tmp_path / "rec", KEY, tmp_path)
    stored = adapters.store(spool, store, "acme-bank", "r-9",
                            datetime(2026, 11, 23, tzinfo=UTC))
    assert not spool.exists()
    assert stored.duration_seconds == 3.0 and stored.path.exists()
    assert stored.size_bytes == stored.path.stat().st_size and len(stored.sha256) == 64
    out = tmp_path / "out.wav"
    assert adapters.open_sealed(stored.path, KEY, out) == "r-9"
    assert adapters.wav_seconds(out) == 3.0
