"""Prompts are really synthesised by espeak-ng + sox as 8 kHz mono WAV, once."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from hotline_media_nodes.cli import main
from hotline_media_nodes.ivr.loader import load_flow
from hotline_media_nodes.prompts import install_prompts

pytestmark = pytest.mark.integration
FLOW = Path(__file__).parent / "flows" / "ivr.yaml"


def test_install_synthesises_8khz_mono_and_caches(tmp_path: Path) -> None:
    flow = load_flow(FLOW)
    prompts = install_prompts(flow, tmp_path)
    assert set(prompts) == set(flow.prompts)
    for prompt in prompts.values():
        with wave.open(str(prompt.path), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert 0.3 < prompt.seconds < 10
    mtimes = {p.path: p.path.stat().st_mtime_ns for p in prompts.values()}
    again = install_prompts(flow, tmp_path)
    assert {p.path: p.path.stat().st_mtime_ns for p in again.values()} == mtimes  # cached


def test_cli_validates_and_reports_a_missing_prompt(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FLOW), "--cache", str(tmp_path)]) == 1
    assert "have no audio" in capsys.readouterr().err
    assert main(["prompts", "install", str(FLOW), "--cache", str(tmp_path)]) == 0
    assert "ok" in capsys.readouterr().out
