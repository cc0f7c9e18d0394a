"""Position and estimated-wait announcements, spoken from pre-synthesised fragments.

"You are caller number | 3 | Your wait is about | 2 minutes": each part is a prompt
generated at install time with the flow's voice (``announcement_prompts``), so a worker
never synthesises speech while it carries calls. ``fragments`` picks the parts (pure).
"""

from __future__ import annotations

MAX_POSITION = 10
MAX_MINUTES = 15


def announcement_prompts() -> dict[str, str]:
    """Prompt id → text of every fragment (added to a flow whose queues announce)."""
    texts = {"sys-position": "You are caller number",
             "sys-position-many": f"You are behind more than {MAX_POSITION} callers.",
             "sys-wait": "Your wait is about",
             "sys-wait-short": "less than a minute.",
             "sys-wait-long": f"more than {MAX_MINUTES} minutes."}
    texts |= {f"sys-n-{n}": f"{n}." for n in range(1, MAX_POSITION + 1)}
    texts |= {f"sys-min-{m}": f"{m} minute{'s' if m > 1 else ''}."
              for m in range(1, MAX_MINUTES + 1)}
    return texts


def minutes(estimated_wait_seconds: float) -> int:
    """Whole minutes as said to a caller; 0 = "less than a minute"."""
    if estimated_wait_seconds < 45:
        return 0
    return max(1, round(estimated_wait_seconds / 60))


def fragments(position: int, estimated_wait_seconds: float) -> list[str]:
    """The prompt ids to play, in order."""
    said = (["sys-position", f"sys-n-{position}"] if position <= MAX_POSITION
            else ["sys-position-many"])
    m = minutes(estimated_wait_seconds)
    if m == 0:
        wait = "sys-wait-short"
    elif m > MAX_MINUTES:
        wait = "sys-wait-long"
    else:
        wait = f"sys-min-{m}"
    return [*said, "sys-wait", wait]
