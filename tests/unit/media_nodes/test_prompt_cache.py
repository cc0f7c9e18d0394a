"""Prompt cache paths and the start-up error for a missing prompt (no synthesis)."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from hotline_media_nodes.ivr.models import Flow
from hotline_media_nodes.prompts import MissingPrompts, load_prompts, prompt_path
from hotline_media_nodes.prompts.logic import default_cache_dir


def test_path_depends_on_text_and_voice(tmp_path: Path) -> None:
    a = prompt_path(tmp_path, "Hello", "en")
    assert a == prompt_path(tmp_path, "Hello", "en")
    assert a != prompt_path(tmp_path, "Hello!", "en")
    assert a != prompt_path(tmp_path, "Hello", "de")
    assert a.parent.parent == tmp_path and a.suffix == ".wav"


def test_default_cache_dir() -> None:
    assert default_cache_dir({"HOME": "/h"}) == Path("/h/.cache/hotline/prompts")
    assert default_cache_dir({"HOME": "/h", "HOTLINE_PROMPT_CACHE": "/p"}) == Path("/p")


def write_silence(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\0\0" * int(8000 * seconds))


def test_missing_prompts_are_a_clear_error_naming_each(acme: Flow, tmp_path: Path) -> None:
    for pid in ("welcome", "billing"):
        write_silence(prompt_path(tmp_path, acme.prompts[pid], acme.voice), 1.5)
    with pytest.raises(MissingPrompts) as caught:
        load_prompts(acme, tmp_path)
    assert set(caught.value.missing) == {"balance", "hold"}
    assert "acme-bank" in str(caught.value) and "prompts install" in str(caught.value)


def test_durations_are_read_back(acme: Flow, tmp_path: Path) -> None:
    for pid, text in acme.prompts.items():
        write_silence(prompt_path(tmp_path, text, acme.voice), 2.0 if pid == "welcome" else 1.0)
    prompts = load_prompts(acme, tmp_path)
    assert prompts["welcome"].seconds == pytest.approx(2.0)
    assert prompts["hold"].seconds == pytest.approx(1.0)
