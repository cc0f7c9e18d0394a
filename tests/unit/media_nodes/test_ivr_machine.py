"""The IVR state machine over the acme flow."""

from __future__ import annotations

import pytest

from hotline_media_nodes.ivr.machine import (
    Digit,
    Enqueue,
    HangUp,
    IvrState,
    NoInput,
    Play,
    PromptEnded,
    Selected,
    ServiceDone,
    UnknownNumber,
    WaitForKey,
    start,
    step,
)
from hotline_media_nodes.ivr.models import Flow, Target


def test_main_number_plays_the_main_menu(acme: Flow) -> None:
    state, actions = start(acme, "800100")
    assert state == IvrState(Target("menu", "main"), 1, 0, True)
    assert actions == [Play("welcome", "main", 1)]


def test_unknown_number(acme: Flow) -> None:
    with pytest.raises(UnknownNumber, match="555"):
        start(acme, "555")


def test_menu_to_sub_menu_to_queue(acme: Flow) -> None:
    state, _ = start(acme, "800100")
    state, actions = step(acme, state, Digit("1"))
    assert actions == [Selected("main", 1, "1", "menu:billing", False),
                       Play("billing", "billing", 2)]
    state, actions = step(acme, state, Digit("1"))
    assert actions[0] == Selected("billing", 2, "1", "queue:disputes", False)
    assert actions[1] == Enqueue(acme.queues["disputes"])
    assert actions[2] == Play("hold", loop=True)
    assert state.stage == "queue"
    assert step(acme, state, Digit("5")) == (state, [])  # keys in the queue are ignored


def test_zero_is_the_agent_from_any_prompt_and_marks_barge_in(acme: Flow) -> None:
    state, _ = start(acme, "800100")
    _, actions = step(acme, state, Digit("0"))
    assert actions[0] == Selected("main", 1, "0", "queue:general", True)
    assert actions[1] == Enqueue(acme.queues["general"])
    state, _ = step(acme, state, PromptEnded())
    _, actions = step(acme, state, Digit("0"))
    assert actions[0] == Selected("main", 1, "0", "queue:general", False)


def test_timeout_replays_then_goes_to_the_no_input_target(acme: Flow) -> None:
    state, _ = start(acme, "800100")
    state, actions = step(acme, state, PromptEnded())
    assert actions == [WaitForKey(4.0)]
    assert step(acme, state, PromptEnded()) == (state, [])
    state, actions = step(acme, state, NoInput())
    assert actions == [Play("welcome", "main", 1)] and state.retries == 1
    assert step(acme, state, NoInput())[1] == []  # stale timer while the prompt replays
    state, _ = step(acme, state, PromptEnded())
    state, actions = step(acme, state, NoInput())
    assert actions == [Enqueue(acme.queues["general"])]
    assert state.node == Target("queue", "general")


def test_an_unoffered_key_repeats_the_menu(acme: Flow) -> None:
    state, _ = start(acme, "800100")
    state, actions = step(acme, state, Digit("7"))
    assert actions == [Play("welcome", "main", 1)] and state.retries == 1


def test_speed_dial_service_answers_then_hangs_up(acme: Flow) -> None:
    state, actions = start(acme, "800101")
    assert actions == [Play("balance")]
    assert step(acme, state, Digit("5")) == (state, [])
    state, actions = step(acme, state, PromptEnded())
    assert actions == [ServiceDone("balance", "resolved"), HangUp("flow-ended")]
    _, actions = step(acme, start(acme, "800101")[0], Digit("0"))
    assert actions[:2] == [ServiceDone("balance", "transferred-to-agent"),
                           Enqueue(acme.queues["general"])]


def test_vip_speed_dial_goes_straight_to_the_queue(acme: Flow) -> None:
    state, actions = start(acme, "800199")
    assert actions[0] == Enqueue(acme.queues["disputes"]) and state.stage == "queue"
