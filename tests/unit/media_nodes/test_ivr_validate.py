"""Three menu levels and 30 s of prompts at most, judged on the fastest path."""

from __future__ import annotations

import pytest

from hotline_media_nodes.ivr.loader import parse_flow
from hotline_media_nodes.ivr.models import Flow
from hotline_media_nodes.ivr.validate import FlowRejected, check_flow, fastest_routes, validate_flow

SHORT = {"welcome": 8.0, "billing": 4.0, "balance": 3.0, "hold": 3.0}


def test_the_acme_flow_passes(acme: Flow) -> None:
    assert check_flow(acme, SHORT) == []
    validate_flow(acme, SHORT)


def test_fastest_route_sums_the_menu_prompts_heard(acme: Flow) -> None:
    routes = fastest_routes(acme, SHORT)
    disputes = routes["queue:disputes"]
    # Reached directly from the VIP speed-dial number: no prompts at all.
    assert disputes.seconds == 0.0 and disputes.steps == ("800199", "queue:disputes")
    cards = routes["queue:cards"]
    assert cards.seconds == 8.0
    assert cards.describe() == "800100 → menu:main [2] → queue:cards"


def test_slow_prompts_reject_the_flow_naming_the_path(acme: Flow) -> None:
    slow = {**SHORT, "welcome": 31.5}
    problems = check_flow(acme, slow)
    assert problems == [
        "queue:cards takes 31.5 s of prompts to reach at the fastest (limit 30 s): "
        "800100 → menu:main [2] → queue:cards"]
    with pytest.raises(FlowRejected, match=r"queue:cards takes 31\.5 s"):
        validate_flow(acme, slow)


def test_the_fastest_path_counts_not_a_slow_one(acme: Flow) -> None:
    # billing's prompt is long, but disputes is reached from the speed-dial number.
    assert check_flow(acme, {**SHORT, "billing": 60.0}) == []


def deep_flow(levels: int) -> Flow:
    menus = {f"m{i}": {"prompt": "p", "options": {"1": f"menu:m{i + 1}"}}
             for i in range(1, levels)}
    menus[f"m{levels}"] = {"prompt": "p", "options": {"1": "queue:q"}}
    return parse_flow({
        "tenant": "deep", "prompts": {"p": "Press one."}, "menus": menus,
        "queues": {"q": {}}, "agent": "queue:q",
        "entry_points": [{"number": "800", "target": "menu:m1"}]})


def test_three_levels_pass_four_are_rejected_naming_the_path() -> None:
    assert check_flow(deep_flow(3), {"p": 1.0}) == []
    problems = check_flow(deep_flow(4), {"p": 1.0})
    assert problems == ["menu:m4 is at level 4 (more than 3 menu levels): "
                        "800 → menu:m1 [1] → menu:m2 [1] → menu:m3 [1] → menu:m4"]


def test_a_loop_back_to_the_main_menu_is_not_a_deeper_level(acme: Flow) -> None:
    routes = fastest_routes(acme, SHORT)
    assert routes["menu:main"].levels == 0  # billing's "9 = back" does not deepen main


def test_unreachable_menus_and_missing_durations_are_reported(acme: Flow) -> None:
    assert "have no audio duration" in check_flow(acme, {"welcome": 1.0})[0]
    flow = parse_flow({
        "tenant": "t", "prompts": {"p": "x"},
        "menus": {"a": {"prompt": "p", "options": {"1": "queue:q"}},
                  "orphan": {"prompt": "p", "options": {"1": "queue:q"}}},
        "queues": {"q": {}}, "agent": "queue:q",
        "entry_points": [{"number": "800", "target": "menu:a"}]})
    assert check_flow(flow, {"p": 1.0}) == ["menu:orphan is unreachable from every entry point"]
