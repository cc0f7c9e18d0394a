"""Prompts of a flow: install (synthesise missing) and load (strict)."""

from __future__ import annotations

from pathlib import Path

from hotline_media_nodes.ivr.models import Flow
from hotline_media_nodes.prompts.adapters import synthesise, wav_seconds
from hotline_media_nodes.prompts.logic import (
    MissingPrompts,
    PromptFile,
    default_cache_dir,
    prompt_path,
)


def install_prompts(flow: Flow, cache_dir: Path | None = None) -> dict[str, PromptFile]:
    """Synthesise every prompt of ``flow`` not yet in the cache; return them all."""
    cache = cache_dir or default_cache_dir()
    for text in flow.prompts.values():
        path = prompt_path(cache, text, flow.voice)
        if not path.exists():
            synthesise(text, flow.voice, path)
    return load_prompts(flow, cache)


def load_prompts(flow: Flow, cache_dir: Path | None = None) -> dict[str, PromptFile]:
    """The cached audio of every prompt, or ``MissingPrompts`` naming each one absent."""
    cache = cache_dir or default_cache_dir()
    paths = {pid: prompt_path(cache, text, flow.voice) for pid, text in flow.prompts.items()}
    missing = {pid: path for pid, path in paths.items() if not path.is_file()}
    if missing:
        raise MissingPrompts(flow.tenant, missing)
    return {pid: PromptFile(pid, path, wav_seconds(path)) for pid, path in paths.items()}


def durations(prompts: dict[str, PromptFile]) -> dict[str, float]:
    return {pid: p.seconds for pid, p in prompts.items()}
