"""Ready means the site's pods are ready: a pure verdict over its Deployments' status."""

from __future__ import annotations

from typing import Any

from helpers.sites import example_site
from hotline_operators.site.logic import deployment_names
from hotline_operators.site.models import SiteSpec
from hotline_operators.site.readiness import (
    condition_changed,
    deployment_state,
    ready_condition,
    site_readiness,
    spec_hints,
)


def deployment(wanted: int | None = 1, ready: int = 1, updated: int | None = None,
               total: int | None = None, generation: int = 2,
               observed: int | None = 2) -> dict[str, Any]:
    created = 1 if wanted is None else wanted  # pods exist, ready or not
    status: dict[str, Any] = {"readyReplicas": ready,
                              "updatedReplicas": created if updated is None else updated,
                              "replicas": created if total is None else total}
    if observed is not None:
        status["observedGeneration"] = observed
    spec = {} if wanted is None else {"replicas": wanted}
    return {"metadata": {"generation": generation}, "spec": spec, "status": status}


def test_a_rolled_out_deployment_with_every_replica_ready_is_ready() -> None:
    assert deployment_state("d", deployment(wanted=2, ready=2)).is_ready


def test_what_keeps_a_deployment_from_being_ready() -> None:
    cases = {
        "a replica not ready": deployment(wanted=2, ready=1),
        "spec not yet seen by the controller": deployment(observed=1),
        "no status yet": {"metadata": {"generation": 1}, "spec": {"replicas": 1}},
        "new pods not all created": deployment(wanted=2, ready=2, updated=1),
        "an old pod still running": deployment(wanted=2, ready=2, updated=2, total=3),
    }
    for why, d in cases.items():
        assert not deployment_state("d", d).is_ready, why
    assert not deployment_state("d", None).is_ready  # missing


def test_zero_replicas_is_ready_and_a_missing_replica_count_means_one() -> None:
    empty = {"metadata": {"generation": 1}, "spec": {"replicas": 0},
             "status": {"observedGeneration": 1}}
    assert deployment_state("d", empty).is_ready
    assert deployment_state("d", deployment(wanted=None, ready=1)).wanted == 1


def test_the_message_counts_every_workload_and_names_those_not_ready() -> None:
    found = {"site-a-media-nodes": deployment(wanted=1, ready=0),
             "site-a-stream-workers": deployment(wanted=1, ready=1)}
    verdict = site_readiness("site-a", ["site-a-media-nodes", "site-a-stream-workers"], found)
    assert not verdict.ready
    assert verdict.message == ("media-nodes 0/1 ready, stream-workers 1/1 ready; "
                               "waiting for: site-a-media-nodes")
    assert verdict.waiting == ("site-a-media-nodes",)


def test_all_ready_and_missing_and_rolling_out() -> None:
    names = ["site-a-media-nodes", "site-a-stream-workers", "site-a-interval-adoption-site-b"]
    ready = {n: deployment() for n in names}
    verdict = site_readiness("site-a", names, ready)
    assert verdict.ready and verdict.waiting == ()
    assert verdict.message == ("media-nodes 1/1 ready, stream-workers 1/1 ready, "
                               "interval-adoption-site-b 1/1 ready")
    partial = {**ready, "site-a-stream-workers": deployment(observed=1)}
    del partial["site-a-media-nodes"]
    verdict = site_readiness("site-a", names, partial, ["a hint"])
    assert verdict.message == ("media-nodes missing, stream-workers 1/1 ready (rolling out), "
                               "interval-adoption-site-b 1/1 ready; waiting for: "
                               "site-a-media-nodes, site-a-stream-workers; a hint")


def test_the_condition_says_progressing_right_after_an_apply() -> None:
    names = ["site-a-media-nodes"]
    waiting = site_readiness("site-a", names, {})
    ready = site_readiness("site-a", names, {"site-a-media-nodes": deployment()})
    assert ready_condition(waiting, "t", just_applied=True)["reason"] == "Progressing"
    assert ready_condition(waiting, "t")["reason"] == "PodsNotReady"
    done = ready_condition(ready, "t", just_applied=True)
    assert (done["status"], done["reason"]) == ("True", "PodsReady")
    failed_over = {"type": "FailedOver", "status": "True", "reason": "PeerLost",
                   "message": "", "lastTransitionTime": "t0"}
    assert condition_changed([failed_over], done)
    assert not condition_changed([failed_over, {**done, "lastTransitionTime": "t0"}], done)
    assert condition_changed([ready_condition(waiting, "t")], ready_condition(waiting, "t",
                                                                              True))


def test_the_expected_deployments_follow_the_peers() -> None:
    body = example_site()
    body["metadata"].update(namespace="ns", uid="u")
    body["spec"]["peers"] = ["site-b", "site-c"]
    assert deployment_names(SiteSpec.from_resource(body)) == [
        "site-a-media-nodes", "site-a-stream-workers", "site-a-interval-adoption-site-b",
        "site-a-interval-adoption-site-c"]


def test_hints_name_the_spec_fields_that_keep_media_nodes_from_starting() -> None:
    body = example_site()
    body["metadata"].update(namespace="ns", uid="u")
    hints = spec_hints(SiteSpec.from_resource(body))
    assert any("spec.mediaNodes.flows" in h for h in hints)
    assert any("spec.callerTokenKey" in h for h in hints)
    body["spec"]["callerTokenKey"] = {"secretRef": "k"}
    body["spec"]["mediaNodes"]["flows"] = {"configMap": "f", "files": ["a.yaml"]}
    body["spec"]["mediaNodes"]["trunks"] = ["10.0.0.0/8"]
    assert spec_hints(SiteSpec.from_resource(body)) == []
