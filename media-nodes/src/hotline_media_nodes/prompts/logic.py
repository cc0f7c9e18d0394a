"""Where a prompt lives in the cache and what a missing one means (pure)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Part of the hash: bump when the audio format or the synthesis pipeline changes.
FORMAT = "espeak-ng|sox|8000Hz|mono|s16|v1"
CACHE_ENV = "HOTLINE_PROMPT_CACHE"


@dataclass(frozen=True)
class PromptFile:
    prompt_id: str
    path: Path
    seconds: float


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV])
    return Path(env.get("HOME", "~")).expanduser() / ".cache" / "hotline" / "prompts"


def text_hash(text: str, voice: str) -> str:
    return hashlib.sha256(f"{FORMAT}\0{voice}\0{text}".encode()).hexdigest()


def prompt_path(cache_dir: Path, text: str, voice: str) -> Path:
    digest = text_hash(text, voice)
    return cache_dir / digest[:2] / f"{digest}.wav"


class MissingPrompts(RuntimeError):
    def __init__(self, tenant: str, missing: Mapping[str, Path]) -> None:
        self.missing = dict(missing)
        listed = ", ".join(f"{pid} ({path})" for pid, path in sorted(missing.items()))
        super().__init__(
            f"IVR flow of {tenant}: {len(missing)} prompt(s) have no audio: {listed}. "
            "Generate them with `uv run hotline-media-nodes prompts install <flow.yaml>` "
            "(install time) before starting a worker.")
