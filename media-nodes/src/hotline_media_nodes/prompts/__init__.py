"""IVR prompts: espeak-ng → sox → 8 kHz mono 16-bit WAV, cached by text hash.

``install_prompts`` (install time) synthesises whatever is missing; ``load_prompts``
(start-up) only reads the cache and fails with the list of missing prompts, so a
worker never starts with a silent menu.
"""

from hotline_media_nodes.prompts.logic import (
    MissingPrompts,
    PromptFile,
    default_cache_dir,
    prompt_path,
)
from hotline_media_nodes.prompts.wiring import durations, install_prompts, load_prompts

__all__ = ["MissingPrompts", "PromptFile", "default_cache_dir", "durations",
           "install_prompts", "load_prompts", "prompt_path"]
