"""The chart's callback scheduler: its policies reach the scheduler's own parser intact,
bad policies are refused by the values schema naming the key, and it can be left out."""

from __future__ import annotations

import subprocess
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.pytest_plugin import KubeTools
from helpers.chart_params import CHART
from hotline_streams.callbacks.config import load_policies
from hotline_streams.callbacks.models import CallbackPolicy, QuietHours

pytestmark = pytest.mark.integration

POLICY = ["--set", "callbacks.policies.acme.time_zone=Europe/Berlin",
          "--set", "callbacks.policies.acme.quiet_hours.start=21:00",
          "--set", "callbacks.policies.acme.quiet_hours.end=08:00",
          "--set", "callbacks.policies.acme.max_attempts=4",
          "--set", "callbacks.policies.acme.figures_interval_s=600",
          "--set", "callbacks.policies.acme.agent_first_queues={billing}",
          "--set", "callbacks.policies.acme.preview_timeout_s=15",
          "--set", "callbacks.policies.acme.allowed_countries={DE,AT}",
          "--set-string", "callbacks.policies.acme.allowed_prefixes={+4930,+43}",
          "--set", "callbacks.policies.acme.max_per_number_per_hour=2",
          "--set", "callbacks.policies.acme.max_per_tenant_per_hour=500"]


def helm_template(kube: KubeTools, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(kube.helm), "--kubeconfig", str(kube.kubeconfig), "template",
                           "hotline", str(CHART), *args], capture_output=True, text=True,
                          timeout=120, check=False)


def callbacks_objects(rendered: str) -> dict[str, Any]:
    return {d["kind"]: d for d in yaml.safe_load_all(rendered)
            if d and d["metadata"]["labels"].get("app.kubernetes.io/component") == "callbacks"}


def test_the_scheduler_runs_against_this_sites_kafka_and_cassandra_with_its_policies(
        kube: KubeTools, tmp_path: Path) -> None:
    done = helm_template(kube, "-f", str(CHART / "values-site-b.yaml"), *POLICY)
    assert done.returncode == 0, done.stderr
    objects = callbacks_objects(done.stdout)
    assert {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
            "NetworkPolicy"} <= set(objects)
    # The policy file the scheduler reads, parsed by the scheduler's own loader.
    policies = tmp_path / "policies.yaml"
    policies.write_text(objects["ConfigMap"]["data"]["policies.yaml"])
    assert load_policies(policies)("acme") == CallbackPolicy(
        time_zone="Europe/Berlin", quiet_hours=QuietHours(time(21, 0), time(8, 0)),
        max_attempts=4, figures_interval_s=600, agent_first_queues=frozenset({"billing"}),
        preview_timeout_s=15, allowed_countries=frozenset({"DE", "AT"}),
        allowed_prefixes=("+4930", "+43"), max_per_number_per_hour=2,
        max_per_tenant_per_hour=500)
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    site_b = yaml.safe_load((CHART / "values-site-b.yaml").read_text())
    run = pod["containers"][0]["args"]
    flags = dict(zip(run[4::2], run[5::2], strict=False))
    assert run[:4] == ["python", "-m", "hotline_streams.callbacks", "run"]
    assert flags["--site"] == site_b["site"]["name"]
    assert flags["--datacenter"] == site_b["cassandra"]["localDatacenter"]
    assert flags["--kafka"] == site_b["kafka"]["bootstrapServers"]
    assert flags["--policies"].endswith("/policies.yaml")
    # The keyspace comes from the chart's setup Job (pre-install, pre-upgrade).
    setup = next(d for d in yaml.safe_load_all(done.stdout)
                 if d and d["kind"] == "Job" and d["metadata"]["name"].endswith("-setup"))
    assert setup["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    schema = next(c for c in setup["spec"]["template"]["spec"]["containers"]
                  if c["name"] == "keyspace")["command"]
    assert schema[3] == "schema" and "dc-a=3,dc-b=3" in schema
    assert "--datacenter" in schema and site_b["cassandra"]["localDatacenter"] in schema
    probes = pod["containers"][0]
    assert (probes["livenessProbe"]["httpGet"]["path"],
            probes["readinessProbe"]["httpGet"]["path"]) == ("/healthz", "/readyz")


@pytest.mark.parametrize(("args", "named"), [
    (["--set", "callbacks.policies.acme.max_attempts=0"], "/callbacks/policies/acme/max_attempts"),
    (["--set", "callbacks.policies.acme.colour=red"], "'colour' not allowed"),
    (["--set", "callbacks.policies.acme.quiet_hours.start=25:00",
      "--set", "callbacks.policies.acme.quiet_hours.end=08:00"],
     "/callbacks/policies/acme/quiet_hours/start"),
    (["--set", "callbacks.policies.Acme!.max_attempts=2"], "'Acme!' not allowed"),
    (["--set", "callbacks.replicas=0"], "/callbacks/replicas"),
    (["--set", "callbacks.policies.acme.agent_first_queues=billing"],
     "/callbacks/policies/acme/agent_first_queues"),
    (["--set", "callbacks.policies.acme.allowed_countries={de}"],
     "/callbacks/policies/acme/allowed_countries/0"),
    (["--set-string", "callbacks.policies.acme.allowed_prefixes={0900}"],
     "/callbacks/policies/acme/allowed_prefixes/0"),
    (["--set", "callbacks.policies.acme.max_per_number_per_hour=0"],
     "/callbacks/policies/acme/max_per_number_per_hour"),
])
def test_bad_callback_values_are_rejected_naming_the_key(kube: KubeTools, args: list[str],
                                                         named: str) -> None:
    done = helm_template(kube, *args)
    assert done.returncode != 0
    assert named in done.stderr, done.stderr


def test_the_scheduler_can_be_left_out(kube: KubeTools) -> None:
    done = helm_template(kube, "--set", "callbacks.enabled=false")
    assert done.returncode == 0, done.stderr
    assert callbacks_objects(done.stdout) == {}
