"""espeak-ng and sox, and reading a WAV's duration."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path


class SynthesisError(RuntimeError):
    pass


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SynthesisError(f"{name} is not installed (devstack installs it: "
                             "`uv run devstack install`, or apt-get install espeak-ng sox)")
    return path


def synthesise(text: str, voice: str, out: Path) -> None:
    """Speak ``text`` into ``out`` as 8 kHz mono 16-bit PCM WAV (atomically)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        raw, final = Path(tmp) / "espeak.wav", Path(tmp) / "8k.wav"
        for cmd in ([_tool("espeak-ng"), "-v", voice, "-w", str(raw), "--", text],
                    [_tool("sox"), str(raw), "-r", "8000", "-c", "1", "-b", "16",
                     "-e", "signed-integer", str(final)]):
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                raise SynthesisError(f"{Path(cmd[0]).name} failed ({done.returncode}) for "
                                     f"{text[:40]!r}: {done.stderr.strip()[-500:]}")
        os.replace(final, out)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / float(wav.getframerate())
