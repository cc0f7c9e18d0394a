"""Kamailio follows the dispatcher list the operator writes, through the edge follower.

Real kube-apiserver, real Kamailio (rendered by hotline_media_nodes.edge with its
JSON-RPC socket), SIPp as the carrier and as two media-node destinations A and B. The
ConfigMap first sends calls to A; rewritten to B (as the failover's split step does),
the next call reaches B. A list without destinations is refused and B keeps the calls.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from devstack.pytest_plugin import KubeTools
from devstack.sip import options_ok
from helpers.kube import new_namespace
from hotline_media_nodes.edge import (
    Destination,
    EdgeConfig,
    render_dispatcher_list,
    render_kamailio_cfg,
)
from hotline_operators.edge.adapters import KamailioRpc
from hotline_operators.edge.logic import listed_uris

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).parent / "scenarios"
CONFIG_MAP = "site-a-edge"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dispatcher_text(*destinations: tuple[str, int]) -> str:
    # The operator's own format: the same renderer the traffic step uses.
    cfg = EdgeConfig(listen="0.0.0.0:5060", trunks=("0.0.0.0/32",),
                     destinations=tuple(Destination(f"127.0.0.1:{port}", name)
                                        for name, port in destinations))
    return render_dispatcher_list(cfg)


def wait_until(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not within {timeout}s"
        time.sleep(0.05)  # polling a real process's state, with a deadline


@dataclass
class Edge:
    port: int
    namespace: str
    destinations: dict[str, int]  # name → SIPp UAS port
    rpc: KamailioRpc
    follower_log: Path
    workdir: Path

    def routed_to(self) -> set[str]:
        return listed_uris(self.rpc.call("dispatcher.list"))


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def edge(kube: KubeTools, operator_api: ApiClient, sipp: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    workdir = tmp_path_factory.mktemp("edge")
    namespace = new_namespace(operator_api, "edge")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        destinations: dict[str, int] = {}
        for name in ("mn-a-0.w1", "mn-b-0.w1"):
            scenario = workdir / f"{name}.xml"
            scenario.write_text((SCENARIOS / "edge_destination.xml").read_text()
                                .replace("{{name}}", name))
            port = free_udp_port()
            procs.append(subprocess.Popen(
                [str(sipp), "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
                 "-nostdin", "-trace_err", "-error_file",
                 str(workdir / f"{name}.err")],
                cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            destinations[name] = port
        client.CoreV1Api(operator_api).create_namespaced_config_map(namespace, {
            "metadata": {"name": CONFIG_MAP},
            "data": {"dispatcher.list": dispatcher_text(("mn-a-0.w1",
                                                         destinations["mn-a-0.w1"]))}})
        edge_port = free_udp_port()
        rpc_socket = workdir / "kamailio_rpc.sock"
        list_path = workdir / "dispatcher.list"
        cfg = EdgeConfig(listen=f"127.0.0.1:{edge_port}", trunks=("127.0.0.1/32",),
                         destinations=(), rpc_socket=str(rpc_socket))
        (workdir / "kamailio.cfg").write_text(render_kamailio_cfg(cfg, str(list_path)))
        follow = [sys.executable, "-m", "hotline_operators.edge", "--namespace", namespace,
                  "--config-map", CONFIG_MAP, "--list", str(list_path),
                  "--rpc-socket", str(rpc_socket), "--kubeconfig", str(kube.kubeconfig)]
        # As in the chart: the init step writes the list Kamailio starts with.
        init = subprocess.run([*follow, "--once"], capture_output=True, text=True, timeout=60)
        assert init.returncode == 0, init.stderr
        assert "mn-a-0.w1" in list_path.read_text()
        kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
        with (workdir / "kamailio.log").open("wb") as log:
            procs.append(subprocess.Popen(
                [kamailio, "-f", str(workdir / "kamailio.cfg"), "-DD", "-E", "-Y",
                 str(workdir), "-m", "64", "-M", "8"], stdout=log, stderr=subprocess.STDOUT))
        follower_log = workdir / "follower.log"
        with follower_log.open("wb") as log:
            procs.append(subprocess.Popen(follow, stdout=log, stderr=subprocess.STDOUT))
        wait_until(lambda: options_ok(edge_port), "Kamailio answering OPTIONS", 30)
        # Following: it has loaded the ConfigMap's list into Kamailio once.
        wait_until(lambda: "Kamailio reloaded" in follower_log.read_text(),
                   "the follower's first reload", 60)
        yield Edge(edge_port, namespace, destinations, KamailioRpc(rpc_socket, 2.0),
                   follower_log, workdir)
    finally:
        for proc in reversed(procs):
            stop(proc)
        client.CoreV1Api(operator_api).delete_namespace(namespace)


def call(sipp: Path, edge: Edge) -> str:
    """One carrier call through the edge; the destination that answered it."""
    log = edge.workdir / f"call-{uuid.uuid4().hex[:6]}.log"
    done = subprocess.run(
        [str(sipp), f"127.0.0.1:{edge.port}", "-sf", str(SCENARIOS / "call_through_edge.xml"),
         "-s", "800101", "-i", "127.0.0.1", "-p", str(free_udp_port()), "-m", "1",
         "-nostdin", "-timeout", "30s", "-timeout_error", "-trace_logs", "-log_file", str(log),
         "-trace_err", "-error_file", str(log.with_suffix(".err"))],
        cwd=edge.workdir, capture_output=True, text=True, timeout=60)
    errors = log.with_suffix(".err")
    assert done.returncode == 0, errors.read_text()[-3000:] if errors.exists() else done.stderr
    found = re.findall(r"answered-by=(\S+)", log.read_text())
    assert len(found) == 1, log.read_text()
    return found[0]


def test_a_rewritten_configmap_moves_the_next_call(
        edge: Edge, operator_api: ApiClient, sipp: Path) -> None:
    a, b = ("mn-a-0.w1", edge.destinations["mn-a-0.w1"]), ("mn-b-0.w1",
                                                            edge.destinations["mn-b-0.w1"])
    assert call(sipp, edge) == "mn-a-0.w1"

    core = client.CoreV1Api(operator_api)
    written = time.monotonic()
    core.patch_namespaced_config_map(CONFIG_MAP, edge.namespace,
                                     {"data": {"dispatcher.list": dispatcher_text(b)}})
    wait_until(lambda: edge.routed_to() == {f"sip:127.0.0.1:{b[1]}"},
               "Kamailio routing by the rewritten list", 30)
    print(f"\nConfigMap written -> Kamailio routing to B in {time.monotonic() - written:.2f}s")
    assert call(sipp, edge) == "mn-b-0.w1"

    # A list without destinations would refuse every call: refused, B keeps the calls.
    core.patch_namespaced_config_map(CONFIG_MAP, edge.namespace,
                                     {"data": {"dispatcher.list": "# nothing\n"}})
    wait_until(lambda: "lists no destination" in edge.follower_log.read_text(),
               "the follower refusing the empty list", 30)
    assert edge.routed_to() == {f"sip:127.0.0.1:{b[1]}"}
    assert call(sipp, edge) == "mn-b-0.w1"
    # Both again: the follower went on after the refused list.
    core.patch_namespaced_config_map(CONFIG_MAP, edge.namespace,
                                     {"data": {"dispatcher.list": dispatcher_text(a, b)}})
    wait_until(lambda: len(edge.routed_to()) == 2, "Kamailio routing to both", 30)
