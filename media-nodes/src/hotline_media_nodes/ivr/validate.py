"""The three-level / 30-second rule, checked on a flow and its prompts' durations.

A caller must reach any service (a queue or a self-service step) within three menu
levels and within 30 s of prompts. The time of a path is the sum of the durations of
the menu prompts the caller hears before each selection (entry at a speed-dial number
skips menus entirely). Both limits are judged on the *fastest* path from any entry
point, and every problem names that path.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass

from hotline_media_nodes.ivr.models import Flow, Target

MAX_LEVELS = 3
MAX_PROMPT_SECONDS = 30.0


@dataclass(frozen=True)
class Route:
    """The fastest way to a node: how long the prompts take, through which menus."""

    seconds: float
    levels: int
    steps: tuple[str, ...]  # e.g. ("800100", "menu:main", "1", "menu:billing", "2", "queue:x")

    def describe(self) -> str:
        parts = [self.steps[0]]
        parts += [f"[{s}]" if len(s) == 1 else f"→ {s}" for s in self.steps[1:]]
        return " ".join(parts)


class FlowRejected(ValueError):
    def __init__(self, tenant: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"IVR flow of {tenant} rejected:\n  " + "\n  ".join(problems))


def fastest_routes(flow: Flow, durations: Mapping[str, float]) -> dict[str, Route]:
    """For every node reachable from an entry point, its fastest route (Dijkstra)."""
    best: dict[str, Route] = {}
    heap: list[tuple[float, int, tuple[str, ...], Target]] = []
    for entry in flow.entry_points:
        heapq.heappush(heap, (0.0, 0, (entry.number,), entry.target))
    while heap:
        seconds, levels, steps, target = heapq.heappop(heap)
        key = str(target)
        if key in best:
            continue
        steps = (*steps, key)
        best[key] = Route(seconds, levels, steps)
        if target.kind != "menu":
            continue
        menu = flow.menus[target.name]
        heard = seconds + durations[menu.prompt]
        for digit, nxt in sorted(menu.options.items()):
            if str(nxt) not in best:
                heapq.heappush(heap, (heard, levels + 1, (*steps, digit), nxt))
    return best


def check_flow(flow: Flow, durations: Mapping[str, float], *,
               max_levels: int = MAX_LEVELS,
               max_seconds: float = MAX_PROMPT_SECONDS) -> list[str]:
    """Every rule the flow breaks, each naming its path (empty = the flow is fine)."""
    missing = sorted(p for p in flow.prompts if p not in durations)
    if missing:
        return [f"prompt(s) {', '.join(missing)} have no audio duration (generate the "
                "prompts first)"]
    routes = fastest_routes(flow, durations)
    problems: list[str] = []
    for mid in sorted(flow.menus):
        route = routes.get(f"menu:{mid}")
        if route is None:
            problems.append(f"menu:{mid} is unreachable from every entry point")
        elif route.levels + 1 > max_levels:
            problems.append(f"menu:{mid} is at level {route.levels + 1} (more than "
                            f"{max_levels} menu levels): {route.describe()}")
    services = [f"queue:{q}" for q in flow.queues] + [f"service:{s}" for s in flow.services]
    for node in sorted(services):
        route = routes.get(node)
        if route is None:
            if node != str(flow.agent_target) and node != str(flow.no_input_target):
                problems.append(f"{node} is unreachable from every entry point")
        elif route.seconds > max_seconds:
            problems.append(f"{node} takes {route.seconds:.1f} s of prompts to reach at the "
                            f"fastest (limit {max_seconds:.0f} s): {route.describe()}")
    return problems


def validate_flow(flow: Flow, durations: Mapping[str, float]) -> None:
    problems = check_flow(flow, durations)
    if problems:
        raise FlowRejected(flow.tenant, problems)
