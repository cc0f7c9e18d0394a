"""Self-service lookups: the flow section, the machine's steps and reading the answer."""

from __future__ import annotations

from typing import Any

import pytest
from test_ivr_loader import raw

from hotline_media_nodes.ivr.loader import FlowError, parse_flow
from hotline_media_nodes.ivr.machine import (
    Digit,
    Enqueue,
    HangUp,
    Lookup,
    LookupDone,
    NoInput,
    Play,
    PromptEnded,
    ServiceDone,
    WaitForKey,
    start,
    step,
)
from hotline_media_nodes.ivr.models import Flow
from hotline_media_nodes.lookups.logic import LookupFailed, answer_of, lookup_url

ORDER = {"prompt": "ask", "then": "hangup",
         "lookup": {"url": "http://orders.test/api/orders/{digits}?src=ivr", "field": "status",
                    "answers": {"shipped": "shipped", "processing": "processing"},
                    "fallback": "sorry", "min_digits": 4, "max_digits": 6,
                    "timeout_seconds": 1.5}}


def flow_with_lookup(**changes: Any) -> Flow:
    data = raw()
    data["prompts"].update(ask="Key in your order number, then hash.", shipped="Shipped.",
                           processing="Being packed.", sorry="Sorry, we cannot tell.")
    data["services"]["order"] = {**ORDER, "lookup": {**ORDER["lookup"], **changes}}
    data["entry_points"].append({"number": "800102", "target": "service:order"})
    return parse_flow(data)


def test_the_lookup_section_loads() -> None:
    spec = flow_with_lookup().services["order"].lookup
    assert spec is not None
    assert (spec.field, spec.min_digits, spec.max_digits, spec.timeout_seconds,
            spec.key_timeout_seconds) == ("status", 4, 6, 1.5, 5.0)
    assert spec.answers == {"shipped": "shipped", "processing": "processing"}
    assert lookup_url(spec, "12345") == "http://orders.test/api/orders/12345?src=ivr"


@pytest.mark.parametrize(("change", "field"), [
    ({"url": "ftp://x/{digits}"}, "services.order.lookup.url"),
    ({"url": "http://x/"}, "services.order.lookup.url"),
    ({"fallback": "nope"}, "services.order.lookup.fallback"),
    ({"answers": {"shipped": "nope"}}, "services.order.lookup.answers.shipped"),
    ({"min_digits": 7}, "services.order.lookup.min_digits"),
    ({"timeout_seconds": 60}, "services.order.lookup.timeout_seconds"),
])
def test_a_bad_lookup_is_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(FlowError) as err:
        flow_with_lookup(**change)
    assert err.value.field == field


def test_id_keyed_in_then_hash_is_looked_up_and_the_answer_said() -> None:
    flow = flow_with_lookup()
    state, actions = start(flow, "800102")
    assert actions == [Play("ask")]
    state, actions = step(flow, state, PromptEnded())
    assert actions == [WaitForKey(5.0)]
    for key in "1203":  # "0" after the first key is a digit, not the agent
        state, actions = step(flow, state, Digit(key))
        assert actions == [WaitForKey(5.0)]
    state, actions = step(flow, state, Digit("#"))
    assert actions == [Lookup("order", "http://orders.test/api/orders/1203?src=ivr", "status",
                              1.5)]
    assert step(flow, state, Digit("5")) == (state, [])  # keys while looking up
    state, actions = step(flow, state, LookupDone("shipped"))
    assert actions == [Play("shipped")]
    state, actions = step(flow, state, PromptEnded())
    assert actions == [ServiceDone("order", "resolved"), HangUp("flow-ended")]


def test_failures_say_the_fallback_and_report_failed() -> None:
    flow = flow_with_lookup()
    state, _ = start(flow, "800102")
    for key in "123456":  # the maximum length ends the id by itself
        state, actions = step(flow, state, Digit(key))
    assert isinstance(actions[0], Lookup)
    state, actions = step(flow, state, LookupDone(None))
    assert actions == [Play("sorry")] and state.outcome == "failed"
    state, actions = step(flow, state, PromptEnded())
    assert actions[0] == ServiceDone("order", "failed")
    # An unknown answer, or too few digits before the caller stops typing, too.
    state, _ = start(flow, "800102")
    for key in "1234#":
        state, _ = step(flow, state, Digit(key))
    assert step(flow, state, LookupDone("lost-in-space"))[1] == [Play("sorry")]
    state, _ = start(flow, "800102")
    state, _ = step(flow, state, Digit("1"))
    _, actions = step(flow, state, NoInput())
    assert actions == [Play("sorry")]


def test_zero_first_is_the_agent() -> None:
    flow = flow_with_lookup()
    state, _ = start(flow, "800102")
    _, actions = step(flow, state, Digit("0"))
    assert actions[0] == ServiceDone("order", "transferred-to-agent")
    assert isinstance(actions[1], Enqueue)


def test_reading_the_answer() -> None:
    assert answer_of(b'{"status": "shipped"}', "status") == "shipped"
    assert answer_of(b'{"order": {"state": 3}}', "order.state") == "3"
    for body, why in ((b"<html>", "not JSON"), (b'{"x": 1}', "no field"),
                      (b'{"status": {"a": 1}}', "not a plain value")):
        with pytest.raises(LookupFailed, match=why):
            answer_of(body, "status")
