"""Operator HA: SIGKILL the leading replica, time the standby's takeover (p50/p95).

    uv run python benchmarks/failover_operator_ha.py [--runs 10] [--lease 5]

On the real kube-apiserver (started, or reused from devstack's HOTLINE_* variables):
each run starts two operator processes with the Lease, waits for op-1 to lead and
op-2 to stand by, creates a site, then SIGKILLs op-1 and deletes the site's
media-node Deployment. Printed per run: seconds from the kill to op-2 holding the
Lease, and to the Deployment being back (op-2's handlers running).
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from failover import install_crds, percentile, poll  # benchmarks/failover.py, beside this
from kubernetes import client, config

from devstack.stack import Component, Stack
from hotline_operators import crds


def start(kubeconfig: Path, namespace: str, identity: str, lease: float,
          logs: Path) -> subprocess.Popen[bytes]:
    with (logs / f"{namespace}-{identity}.log").open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "-n", namespace,
             "-m", "hotline_operators.operator"], stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(kubeconfig),
                 "HOTLINE_OPERATOR_LEASE": "hotline-operator",
                 "HOTLINE_OPERATOR_LEASE_NAMESPACE": namespace,
                 "HOTLINE_OPERATOR_ID": identity,
                 "HOTLINE_OPERATOR_LEASE_SECONDS": str(lease)})


def site(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{crds.GROUP}/{crds.VERSION}", "kind": "ContactCenterSite",
        "metadata": {"name": "site-a", "namespace": namespace},
        "spec": {"site": "site-a", "peers": ["site-b"],
                 "kafka": {"bootstrapServers": "kafka.invalid:9092"},
                 "cassandra": {"contactPoints": ["cassandra.invalid"], "localDatacenter": "dc"},
                 "mediaNodes": {"network": {"mode": "hostNetwork"}},
                 "witness": {"url": "http://witness.invalid:8443"}},
    }


def one_run(api: client.ApiClient, kubeconfig: Path, lease: float,
            logs: Path) -> tuple[float, float]:
    core: Any = client.CoreV1Api(api)
    apps: Any = client.AppsV1Api(api)
    leases: Any = client.CoordinationV1Api(api)
    namespace = f"bench-ha-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})

    def holder() -> str | None:
        try:
            found = leases.read_namespaced_lease("hotline-operator", namespace)
        except client.ApiException:
            return None
        return str(found.spec.holder_identity or "")

    def media_uid() -> str | None:
        try:
            return str(apps.read_namespaced_deployment("site-a-media-nodes", namespace)
                       .metadata.uid)
        except client.ApiException:
            return None

    procs = {"op-1": start(kubeconfig, namespace, "op-1", lease, logs)}
    try:
        poll(lambda: holder() == "op-1" or None, "op-1 leading")
        procs["op-2"] = start(kubeconfig, namespace, "op-2", lease, logs)
        standby_log = logs / f"{namespace}-op-2.log"
        poll(lambda: "is the standby" in standby_log.read_text() or None, "op-2 standing by")
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            crds.GROUP, crds.VERSION, namespace, crds.SITES, site(namespace))
        before = poll(media_uid, "op-1 creating the media nodes")
        killed = time.monotonic()
        procs["op-1"].send_signal(signal.SIGKILL)
        procs["op-1"].wait()
        apps.delete_namespaced_deployment("site-a-media-nodes", namespace)
        poll(lambda: holder() == "op-2" or None, "op-2 taking the lease")
        took = time.monotonic() - killed
        def repaired() -> bool | None:
            uid = media_uid()
            return True if uid is not None and uid != before else None

        poll(repaired, "op-2 repairing the Deployment")
        return took, time.monotonic() - killed
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lease", type=float, default=5.0, help="Lease duration, seconds")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="hotline-operator-ha-bench-"))
    stack = Stack()
    stack.up([Component.KUBERNETES])
    assert stack.kube is not None
    kubeconfig = stack.kube.kubeconfig_path
    api = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig))
    install_crds(api)
    results: list[tuple[float, float]] = []
    try:
        print(f"seconds from SIGKILL of the leader (Lease {args.lease:.0f} s); logs in {logs}")
        print(f"{'run':>3}  {'standby holds Lease':>20}  {'Deployment repaired':>20}")
        for n in range(1, args.runs + 1):
            took, repaired = one_run(api, kubeconfig, args.lease, logs)
            results.append((took, repaired))
            print(f"{n:>3}  {took:>20.2f}  {repaired:>20.2f}", flush=True)
    finally:
        stack.down()
    for label, values in (("standby holds the Lease", [r[0] for r in results]),
                          ("deleted Deployment repaired", [r[1] for r in results])):
        print(f"{label:<28} p50 {statistics.median(values):.2f} s  "
              f"p95 {percentile(values, 0.95):.2f} s  max {max(values):.2f} s")


if __name__ == "__main__":
    main()
