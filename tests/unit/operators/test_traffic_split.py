"""The traffic split: shares, the edge's dispatcher destinations, and resumable steps."""

from __future__ import annotations

from helpers.sites import example_site
from hotline_operators.failover.logic import FAILOVER_STEPS, event_id, remaining_steps
from hotline_operators.site.models import EdgeDestination, EdgeSpec, SiteSpec
from hotline_operators.traffic.logic import (
    SPLIT_ANNOTATION,
    TOKEN_ANNOTATION,
    base_shares,
    dispatcher_config_map,
    dispatcher_list,
    shares_after,
)

EDGE = EdgeSpec(config_map="hotline-site-a-edge", destinations=(
    EdgeDestination("site-a", "10.0.1.2:5071", "mn-a-0.w1"),
    EdgeDestination("site-a", "10.0.1.2:5072", "mn-a-0.w2"),
    EdgeDestination("site-b", "10.9.1.2:5071", "mn-b-0.w1", max_load=2),
))


def test_the_failed_sites_share_moves_to_the_survivor() -> None:
    assert base_shares("site-a", 60, ["site-b"]) == {"site-a": 60, "site-b": 40}
    assert shares_after("site-a", 60, ["site-b"], ["site-b"]) == {"site-a": 100, "site-b": 0}
    assert shares_after("site-a", 60, ["site-b"], []) == {"site-a": 60, "site-b": 40}


def test_shares_over_several_peers_sum_to_one_hundred() -> None:
    shares = base_shares("site-a", 40, ["site-c", "site-b"])
    assert shares == {"site-a": 40, "site-b": 30, "site-c": 30}
    after = shares_after("site-a", 40, ["site-b", "site-c"], ["site-c"])
    assert after == {"site-a": 70, "site-b": 30, "site-c": 0}
    assert sum(base_shares("site-a", 33, ["b", "c"]).values()) == 100


def test_the_dispatcher_list_drops_a_failed_peers_workers_and_prefers_our_own() -> None:
    normal = dispatcher_list(EDGE, "site-a", [])
    lines = [line for line in normal.splitlines() if not line.startswith("#")]
    assert lines == ["1 sip:10.0.1.2:5071 0 10 duid=mn-a-0.w1;maxload=4",
                     "1 sip:10.0.1.2:5072 0 10 duid=mn-a-0.w2;maxload=4",
                     "1 sip:10.9.1.2:5071 0 0 duid=mn-b-0.w1;maxload=2"]
    failed_over = dispatcher_list(EDGE, "site-a", ["site-b"])
    assert "10.9.1.2" not in failed_over and failed_over.count("\n1 sip:") == 2


def test_the_config_map_carries_only_the_dispatcher_key_and_the_split() -> None:
    body = example_site()
    body["metadata"].update({"namespace": "ns", "uid": "u-1"})
    spec = SiteSpec.from_resource(body)
    manifest = dispatcher_config_map(spec, EDGE, ["site-b"], 42)
    assert manifest["data"] == {"dispatcher.list": dispatcher_list(EDGE, "site-a", ["site-b"])}
    meta = manifest["metadata"]
    assert isinstance(meta, dict)
    assert meta["annotations"] == {SPLIT_ANNOTATION: "site-a=100,site-b=0",
                                   TOKEN_ANNOTATION: "42"}
    assert meta["name"] == "hotline-site-a-edge"


def test_the_edge_spec_is_read_from_the_resource() -> None:
    body = example_site()
    body["metadata"].update({"namespace": "ns", "uid": "u-1"})
    body["spec"]["edge"] = {"dispatcherConfigMap": "edge", "destinations": [
        {"site": "site-b", "address": "10.9.1.2:5071", "name": "b1"}]}
    edge = SiteSpec.from_resource(body).edge
    assert edge == EdgeSpec("edge", "dispatcher.list",
                            (EdgeDestination("site-b", "10.9.1.2:5071", "b1", 4),))


def test_a_resumed_failover_does_only_the_remaining_steps() -> None:
    assert remaining_steps([]) == FAILOVER_STEPS
    assert remaining_steps(["split-written", "scaled"]) == ("adoption-requested", "announced")
    assert remaining_steps(list(FAILOVER_STEPS)) == ()


def test_event_ids_are_the_same_for_the_same_step_of_the_same_takeover() -> None:
    at = "2026-11-23T11:00:00.000000Z"
    assert event_id("failover", "site-b", 7, at) == event_id("failover", "site-b", 7, at)
    assert event_id("failover", "site-b", 7, at) != event_id("failover", "site-b", 8, at)
    assert event_id("failover", "site-b", 7, at) != event_id("adoption", "site-b", 7, at)
    # A second takeover under a re-granted token is not mistaken for a duplicate.
    later = "2026-11-23T12:00:00.000000Z"
    assert event_id("failover", "site-b", 7, at) != event_id("failover", "site-b", 7, later)
