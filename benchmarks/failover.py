"""Site loss to takeover, on the real stack: p50/p95 of each step over N runs.

    uv run python benchmarks/failover.py [--runs 10] [--peer-timeout 3]

Starts (or reuses, see devstack's HOTLINE_* variables) Kafka for site-a and site-b,
MirrorMaker 2, the kube-apiserver and the witness's etcd, plus a witness on it. Each
run: two operator processes (one per site, each in a fresh namespace), both sites
healthy and seeing each other's mirrored heartbeats; then site-b dies (its operator
is SIGKILLed and its probe answers 503). Measured from site-b's last heartbeat on its
own Kafka (ce_time) to site-a's recorded progress (status.failovers, written as each
step finishes): the witness's grant (decision), the edge's dispatcher list written
(and the split event acknowledged), workloads scaled to the failover profile, the
adoption command acknowledged by Kafka, and the SiteFailover announced; and "edge
reloaded": a real Kamailio beside site-a, kept in step by the edge follower
(hotline_operators.edge) watching site-a's dispatcher ConfigMap, no longer lists
site-b's worker (read over Kamailio's own RPC). Prints every run's timeline, then
p50/p95 per step.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import requests
from confluent_kafka import Consumer, KafkaError, TopicPartition
from kubernetes import client, config

from devstack.peer_probe import PeerHealthEndpoint
from devstack.process import wait_for
from devstack.stack import Component, Stack
from devstack.witness_store import write_site_keys
from hotline_events.catalog import default_catalog
from hotline_events.envelope import decode
from hotline_events.models.sites import SiteHeartbeat
from hotline_events.topics import ensure_topics
from hotline_media_nodes.edge import EdgeConfig, render_kamailio_cfg
from hotline_operators import crds
from hotline_operators.edge.adapters import KamailioRpc, write_atomically
from hotline_operators.edge.logic import listed_uris
from hotline_operators.failover.logic import FAILOVER_STEPS
from hotline_operators.site.models import EdgeDestination, EdgeSpec
from hotline_operators.traffic.logic import dispatcher_list
from hotline_operators.witness.signing import KEYS_DIR_ENV, sign

T = TypeVar("T")
STEPS = ("decision", *FAILOVER_STEPS, "edge-reloaded")
LABELS = {"decision": "failover decision (lease granted)",
          "split-written": "traffic split written",
          "scaled": "workloads scaled",
          "adoption-requested": "adoption published",
          "announced": "SiteFailover announced",
          "edge-reloaded": "edge reloaded (Kamailio's list)"}
EDGE_DESTINATIONS = [{"site": "site-a", "address": "127.0.1.2:5071", "name": "mn-a-0.w1"},
                     {"site": "site-b", "address": "127.0.2.2:5071", "name": "mn-b-0.w1"}]
PEER_URI = "sip:127.0.2.2:5071"


def poll(check: Callable[[], T | None], what: str, timeout: float = 120) -> T:
    return wait_for(check, what, timeout=timeout,
                    error=lambda message: SystemExit(f"benchmark aborted: {message}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


WITNESS_PEER_TIMEOUT_S = 2  # the shortest etcd lease TTL


def keys_dir(logs: Path) -> Path:
    """The sites' witness keys (the witness's --keys-dir, the operators' env)."""
    return logs / "witness-keys"


def start_witness(logs: Path, etcd: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    write_site_keys(keys_dir(logs), ("site-a", "site-b"))
    with (logs / "witness.log").open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hotline_operators.witness",
                                 "--etcd", etcd,
                                 "--prefix", f"/hotline/bench-{uuid.uuid4().hex[:8]}",
                                 "--host", "127.0.0.1", "--port", str(port),
                                 "--peer-timeout", str(WITNESS_PEER_TIMEOUT_S),
                                 "--keys-dir", str(keys_dir(logs))],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool | None:
        try:
            return requests.get(url + "/healthz", timeout=1).ok or None
        except requests.RequestException:
            return None

    poll(answers, "the witness answering", 30)
    return proc, url


def install_crds(api: client.ApiClient) -> None:
    extensions: Any = client.ApiextensionsV1Api(api)
    for crd in crds.all_crds():
        try:
            extensions.create_custom_resource_definition(crd)
        except client.ApiException as exc:
            if exc.status != 409:
                raise

        def established(name: str = crd["metadata"]["name"]) -> bool | None:
            found = extensions.read_custom_resource_definition(name)
            return any(c.type == "Established" and c.status == "True"
                       for c in found.status.conditions or []) or None

        poll(established, f"CRD {crd['metadata']['name']} established", 60)


def site_body(site: str, peer: str, bootstrap: str, witness: str, probe: str,
              peer_timeout: int) -> dict[str, Any]:
    return {
        "apiVersion": f"{crds.GROUP}/{crds.VERSION}", "kind": "ContactCenterSite",
        "metadata": {"name": site},
        "spec": {
            "site": site, "peers": [peer], "kafka": {"bootstrapServers": bootstrap},
            "cassandra": {"contactPoints": ["cassandra.invalid"], "localDatacenter": "dc"},
            # hostNetwork: no LoadBalancer Service, whose 200 RTP node ports per site
            # would exhaust the API server's node-port range within a few runs.
            "mediaNodes": {"replicas": {"normal": 2, "failover": 4},
                           "network": {"mode": "hostNetwork"}},
            "streamWorkers": {"replicas": {"normal": 1, "failover": 2}},
            "peerProbes": [{"site": peer, "url": probe}],
            "witness": {"url": witness},
            "timings": {"heartbeatIntervalSeconds": 1, "peerTimeoutSeconds": peer_timeout,
                        "holdDownSeconds": 3600},
            "edge": {"dispatcherConfigMap": f"{site}-edge",
                     "destinations": EDGE_DESTINATIONS},
        },
    }


class LocalEdge:
    """site-a's Kamailio (one for all runs) and, per run, the edge follower."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.list_path = workdir / "dispatcher.list"
        self.rpc = KamailioRpc(workdir / "kamailio_rpc.sock", 2.0)
        self.both = dispatcher_list(EdgeSpec("site-a-edge", destinations=tuple(
            EdgeDestination(d["site"], d["address"], d["name"]) for d in EDGE_DESTINATIONS)),
            "site-a", failed=())
        write_atomically(self.list_path, self.both)
        cfg = EdgeConfig(listen=f"127.0.0.1:{free_port()}", trunks=("127.0.0.1/32",),
                         destinations=(), rpc_socket=str(self.rpc.server))
        (workdir / "kamailio.cfg").write_text(render_kamailio_cfg(cfg, str(self.list_path)))
        with (workdir / "kamailio.log").open("wb") as out:
            self.kamailio = subprocess.Popen(
                ["kamailio", "-f", str(workdir / "kamailio.cfg"), "-DD", "-E", "-Y",
                 str(workdir), "-m", "64", "-M", "8"], stdout=out, stderr=subprocess.STDOUT)
        poll(lambda: self.listed() or None, "Kamailio answering its RPC", 30)

    def listed(self) -> set[str]:
        try:
            return listed_uris(self.rpc.call("dispatcher.list"))
        except (OSError, ValueError):
            return set()

    def reset(self) -> None:
        """Both sites' workers again, as before a run's failover."""
        write_atomically(self.list_path, self.both)
        self.rpc.call("dispatcher.reload")
        poll(lambda: PEER_URI in self.listed() or None, "the edge listing site-b again", 30)

    def follow(self, kubeconfig: Path, namespace: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("w") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "hotline_operators.edge", "--namespace", namespace,
                 "--config-map", "site-a-edge", "--list", str(self.list_path),
                 "--rpc-socket", str(self.rpc.server), "--kubeconfig", str(kubeconfig)],
                stdout=out, stderr=subprocess.STDOUT)

    def watch_peer_leaving(self) -> Callable[[], float]:
        """Start polling Kamailio; the returned function gives the wall time at which
        site-b's worker left its list (waiting for it)."""
        seen: list[float] = []

        def run() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if PEER_URI not in self.listed():
                    seen.append(time.time())
                    return
                time.sleep(0.01)  # sampling Kamailio's list: the measurement's resolution

        thread = threading.Thread(target=run, daemon=True)
        thread.start()

        def result() -> float:
            thread.join(130)
            if not seen:
                raise SystemExit("benchmark aborted: Kamailio still lists site-b's worker "
                                 f"(see {self.workdir})")
            return seen[0]

        return result

    def close(self) -> None:
        self.kamailio.terminate()
        self.kamailio.wait(15)


def operator(kubeconfig: Path, namespace: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "kopf", "run", "--standalone", "-n", namespace,
             "-m", "hotline_operators.operator"], stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "KUBECONFIG": str(kubeconfig),
                 KEYS_DIR_ENV: str(keys_dir(log.parent))})


def last_heartbeat(bootstrap: str, site: str) -> float:
    """The newest heartbeat ``site`` published on its own Kafka (its ce_time)."""
    topic = default_catalog().topic_for_type(SiteHeartbeat.TYPE).name
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in parts])
    newest, at_end = 0.0, set[int]()
    deadline = time.monotonic() + 60
    while len(at_end) < len(parts) and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        error = msg.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                at_end.add(msg.partition() or 0)
            continue
        event = decode(msg.headers(), msg.value())
        if isinstance(event.data, SiteHeartbeat) and event.data.site == site:
            newest = max(newest, event.time.timestamp())
    consumer.close()
    return newest


def condition(obj: dict[str, Any], kind: str) -> str | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == kind:
            return str(c["status"])
    return None


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def one_run(n: int, api: client.ApiClient, kubeconfig: Path, stack: Stack, witness: str,
            logs: Path, peer_timeout: int, edge: LocalEdge) -> dict[str, float]:
    objects = client.CustomObjectsApi(api)
    core: Any = client.CoreV1Api(api)
    namespaces = {s: f"bench-{n}-{s}-{uuid.uuid4().hex[:4]}" for s in ("site-a", "site-b")}
    for ns in namespaces.values():
        core.create_namespace({"metadata": {"name": ns}})
    probes = {"site-a": PeerHealthEndpoint(), "site-b": PeerHealthEndpoint()}
    procs = {s: operator(kubeconfig, namespaces[s], logs / f"run{n}-{s}.log")
             for s in namespaces}
    edge.reset()
    procs["edge"] = edge.follow(kubeconfig, namespaces["site-a"], logs / f"run{n}-edge.log")
    try:
        for name, peer in (("site-a", "site-b"), ("site-b", "site-a")):
            objects.create_namespaced_custom_object(
                crds.GROUP, crds.VERSION, namespaces[name], crds.SITES,
                site_body(name, peer, stack.kafka[name].bootstrap, witness, probes[peer].url,
                          peer_timeout))

        def site(name: str) -> dict[str, Any]:
            found: Any = objects.get_namespaced_custom_object(
                crds.GROUP, crds.VERSION, namespaces[name], crds.SITES, name)
            return dict(found)

        poll(lambda: condition(site("site-a"), "PeerHealthy") == "True" or None,
             "site-a seeing site-b's mirrored heartbeats", 180)
        edge_reloaded = edge.watch_peer_leaving()
        procs["site-b"].send_signal(signal.SIGKILL)
        procs["site-b"].wait()
        probes["site-b"].alive = False

        def taken_over() -> dict[str, Any] | None:
            status: dict[str, Any] = site("site-a").get("status") or {}
            at = status.get("failovers", {}).get("site-b", {}).get("at", {})
            return status if "announced" in at else None

        done = poll(taken_over, "site-a finishing the takeover", 120)
        progress = done["failovers"]["site-b"]
        lost = last_heartbeat(stack.kafka["site-b"].bootstrap, "site-b")
        times = {"decision": stamp(progress["decidedAt"]) - lost}
        times |= {step: stamp(progress["at"][step]) - lost for step in FAILOVER_STEPS}
        times["edge-reloaded"] = edge_reloaded() - lost
        # Hand the lease back so the next run's takeover is a new one.
        body = json.dumps({"failed_site": "site-b", "token": progress["token"]}).encode()
        key = (keys_dir(logs) / "site-a").read_bytes().strip()
        requests.post(witness + "/release", data=body, timeout=5, headers={
            "Content-Type": "application/json",
            **sign("site-a", key, "POST", "/release", body, time.time())})
        return times
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for probe in probes.values():
            probe.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--peer-timeout", type=int, default=3,
                        help="spec.timings.peerTimeoutSeconds (heartbeats every 1 s)")
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="hotline-failover-bench-"))
    stack = Stack()
    stack.up([Component.KAFKA_SITE_A, Component.KAFKA_SITE_B, Component.MIRRORMAKER,
              Component.KUBERNETES, Component.WITNESS_STORE])
    assert stack.kube is not None and stack.witness_store is not None
    for cluster in stack.kafka.values():
        ensure_topics(cluster.bootstrap)
    kubeconfig = stack.kube.kubeconfig_path
    api = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig))
    install_crds(api)
    witness_proc, witness = start_witness(logs, stack.witness_store.url)
    edge = LocalEdge(logs)
    results: list[dict[str, float]] = []
    try:
        print(f"seconds from site-b's last heartbeat (peerTimeout {args.peer_timeout} s, "
              f"heartbeat 1 s, witness peer timeout {WITNESS_PEER_TIMEOUT_S} s); logs in {logs}")
        print("run  " + "  ".join(f"{s:>18}" for s in STEPS))
        for n in range(1, args.runs + 1):
            times = one_run(n, api, kubeconfig, stack, witness, logs, args.peer_timeout, edge)
            results.append(times)
            print(f"{n:>3}  " + "  ".join(f"{times[s]:>18.2f}" for s in STEPS), flush=True)
    finally:
        edge.close()
        witness_proc.terminate()
        witness_proc.wait(timeout=10)
        stack.down()
    print(f"\n{'step':<36} {'p50 s':>7} {'p95 s':>7} {'max s':>7}  (n={len(results)})")
    for s in STEPS:
        values = [r[s] for r in results]
        print(f"{LABELS[s]:<36} {statistics.median(values):>7.2f} "
              f"{percentile(values, 0.95):>7.2f} {max(values):>7.2f}")


if __name__ == "__main__":
    main()
