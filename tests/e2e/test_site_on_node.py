"""Hotline as pods: the chart installed on the dev stack's real node takes calls.

``helm install`` of site-a from the repository's chart, with the images built from the
repository and imported into the node's containerd → every pod Running and Ready → a
SIPp call through the edge pod (Kamailio) is answered by the media-node pod, queued,
routed by the stream-worker pod to an agent (logged in on that pod's agent API),
rung on the agent's SIPp phone, bridged and completed, every step on Kafka → ``helm
upgrade`` that changes the IVR flow while a call is in progress: the call finishes on
the old pod, the next call follows the new flow → ``helm test`` passes → ``helm
uninstall`` leaves nothing of the site behind.

One test, in order: each step needs the state the previous one left.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "media_nodes"))
from media_nodes_support import (
    SIPP_PCAPS,
    free_udp_port,
    render,
    sipp_command,
    start_sipp_uas,
    wait_sipp,
)

from devstack.cassandra import CassandraNode
from devstack.images import build_all
from devstack.kafka import KafkaCluster
from devstack.network import POD_GATEWAY
from devstack.process import wait_for
from devstack.pytest_plugin import KubeNode
from devstack.site_release import (
    DEMO_FLOW,
    DEMO_TENANT,
    HelmError,
    Release,
    SitePorts,
    site_values,
)
from helpers.kafka_io import EventReader
from hotline_events.catalog import default_catalog
from hotline_events.envelope import Event
from hotline_events.models.calls import CallAnswered, CallCompleted, CallOffered, CallQueued
from hotline_events.pii import caller_token

pytestmark = pytest.mark.integration

AUDIO = str(SIPP_PCAPS / "g711a.pcap")
TOKEN_KEY = f"node-e2e-{uuid.uuid4().hex}"
T = TypeVar("T")


class Site:
    """The installed release and how to reach it from the host."""

    def __init__(self, release: Release, values: dict[str, Any], ports: SitePorts,
                 kafka: str, phone_port: int) -> None:
        self.release, self.values, self.ports = release, values, ports
        self.kafka, self.phone_port = kafka, phone_port
        self.streams = f"http://{POD_GATEWAY}:{ports.streams}"

    def post(self, path: str, body: dict[str, Any]) -> int:
        request = urllib.request.Request(self.streams + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    def logged_in(self) -> list[str]:
        """The demo tenant's logged-in agents, as the stream worker's page lists them."""
        with urllib.request.urlopen(f"{self.streams}/tenants/{DEMO_TENANT}/agents",
                                    timeout=5) as response:
            return [a["agent_id"] for a in json.load(response)["agents"]]

    def agent(self, agent: str, action: str, body: dict[str, Any]) -> None:
        """POST an agent action until the stream worker accepts it (a login must reach
        its routing state, a Kafka round trip, before ``ready`` is accepted)."""
        wait_for(lambda: True if self.post(
            f"/tenants/{DEMO_TENANT}/agents/{agent}/{action}", body) == 202 else None,
            f"agent {agent} {action} accepted", timeout=60, interval=0.3)

    def pods(self) -> list[dict[str, Any]]:
        listed = json.loads(self.release.kubectl_run("get", "pods", "-o", "json"))
        return list(listed["items"])

    def describe(self) -> str:
        """The site's objects and the last lines of its data plane's logs."""
        parts: list[str] = []
        for args in (("get", "pods,deploy,contactcentersites", "-o", "wide"),
                     ("logs", "deploy/site-a-media-nodes", "--tail", "15"),
                     ("exec", "deploy/site-a-media-nodes", "--", "sh", "-c",
                      "tail -n 25 /var/lib/hotline/pool/*.log"),
                     ("logs", "deploy/site-a-stream-workers", "--tail", "25"),
                     ("logs", "deploy/hotline-site-a-edge", "-c", "kamailio", "--tail", "10")):
            try:
                parts.append(self.release.kubectl_run(*args))
            except HelmError as err:
                parts.append(str(err))
        return "\n".join(parts)


def _ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return pod["status"].get("phase") == "Running" and any(
        c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.fixture(scope="module")
def site(kube_node: KubeNode, kafka_site_a: KafkaCluster, cassandra_dc_a: CassandraNode,
         sipp: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    images = build_all()
    kube_node.import_images(images)
    work = tmp_path_factory.mktemp("site-on-node")
    release = Release(name="hotline", namespace=f"site-a-{uuid.uuid4().hex[:6]}",
                      kubeconfig=kube_node.kubeconfig, helm=kube_node.helm,
                      kubectl=kube_node.kubectl, workdir=work)
    ports = SitePorts.free()
    phone_port = free_udp_port(POD_GATEWAY)
    values = site_values(
        site="site-a", peers=["site-b"], kafka=kafka_site_a.bootstrap,
        cassandra=cassandra_dc_a.contact_point, datacenter="dc-a", images=images,
        node_ip=POD_GATEWAY, ports=ports, workers=1,
        # Every agent rings the one SIPp phone, on the node's address: the workers'
        # SIP transport is bound there and sends nothing to the loopback.
        agent_uri_template=f"sip:{{agent_id}}@{POD_GATEWAY}:{phone_port}")
    release.create_namespace_and_secrets(token_key=TOKEN_KEY)
    site = Site(release, values, ports, kafka_site_a.bootstrap, phone_port)
    try:
        yield site
    finally:
        with contextlib.suppress(HelmError):  # the test uninstalled it already
            release.helm_run("uninstall", release.name, "--wait", "--timeout", "120s")
        release.kubectl_run("delete", "namespace", release.namespace, "--wait=false")


def _first(kafka: str, check: Callable[[list[Event]], T | None], timeout: float,
           describe: Callable[[], str]) -> T:
    reader = EventReader(kafka, default_catalog().topic_for_type(CallOffered.TYPE).name)

    def seen() -> str:
        calls: dict[str, list[str]] = {}
        for event in reader.events:
            calls.setdefault(event.subject or "", []).append(type(event.data).__name__)
        return f"calls on the topic: {calls}\n{describe()}"

    try:
        return reader.poll_until(check, timeout, describe=seen)
    finally:
        reader.close()


def _call_of(caller: str) -> Callable[[list[Event]], str | None]:
    wanted = caller_token(caller, TOKEN_KEY.encode())

    def find(events: list[Event]) -> str | None:
        return next((e.subject for e in events if isinstance(e.data, CallOffered)
                     and e.data.caller_token == wanted), None)
    return find


def _events_of(events: list[Event], call_id: str) -> list[Any]:
    return [e.data for e in events if e.subject == call_id]


def _completed(call_id: str) -> Callable[[list[Event]], list[Any] | None]:
    def check(events: list[Event]) -> list[Any] | None:
        mine = _events_of(events, call_id)
        return mine if any(isinstance(e, CallCompleted) for e in mine) else None
    return check


def _call(site: Site, sipp: Path, tmp: Path, caller: str,
          wait_ms: int) -> tuple[subprocess.Popen[str], Path]:
    """A caller presses 0 for an agent, talks ``wait_ms`` and hangs up (in background)."""
    scenario = render("caller_agent_then_hangup.xml", tmp, caller=caller,
                      wait_ms=str(wait_ms), audio_pcap=AUDIO)
    proc = subprocess.Popen(
        sipp_command(sipp, scenario, site.ports.edge, service="800100",
                     timeout_s=wait_ms // 1000 + 60),
        cwd=scenario.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc, scenario


def test_a_site_installed_with_helm_takes_calls_upgrades_its_flow_mid_call_and_uninstalls(
        site: Site, sipp: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    site.release.install(site.values, timeout_s=600)
    installed = time.monotonic() - started

    # Every pod of the site runs and is ready: the chart's and the operator's.
    pods = site.pods()
    components = {p["metadata"]["labels"].get("app.kubernetes.io/component") for p in pods}
    assert {"operator", "edge", "callbacks", "media-nodes", "stream-workers"} <= components, \
        site.describe()
    assert all(_ready(p) for p in pods), site.describe()
    for pod in pods:
        spec = pod["spec"]
        security = spec.get("securityContext") or {}
        assert security.get("runAsNonRoot") is True, pod["metadata"]["name"]
        assert security.get("seccompProfile") == {"type": "RuntimeDefault"}
        for container in spec["containers"]:
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    site_object = yaml.safe_load(site.release.kubectl_run(
        "get", "contactcentersite", "site-a", "-o", "yaml"))
    ready = next(c for c in site_object["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True", ready

    # A call: the edge pod → the media-node pod's IVR → queue → the stream-worker pod
    # routes it to the agent → the agent's phone rings, is bridged, the caller hangs up.
    agent = f"agent-node-{uuid.uuid4().hex[:4]}"

    def phone() -> tuple[subprocess.Popen[str], Path]:
        """The agent's phone for one call: answers, talks, waits for the BYE."""
        scenario = render("agent_answers_waits_for_bye.xml", tmp_path, agent=agent,
                          ring_ms="300", bye_timeout_ms="300000", audio_pcap=AUDIO)
        proc, _ = start_sipp_uas(sipp, scenario, port=site.phone_port, timeout_s=400,
                                 host=POD_GATEWAY)
        return proc, scenario

    # The session's Kafka (and so the demo tenant's routing state) is shared with the
    # other node tests: an agent one of them left ready would take this test's call.
    for other in site.logged_in():
        site.agent(other, "logout", {})
    first_phone = phone()
    site.agent(agent, "login", {"skills": {"general": 3, "cards": 3}})
    site.agent(agent, "ready", {})
    caller = "+4930123456701"
    first_call, first_scenario = _call(site, sipp, tmp_path, caller, wait_ms=6000)
    call_started = time.monotonic()
    wait_sipp(first_call, first_scenario, timeout=120)
    wait_sipp(*first_phone, timeout=60)  # the node hung the agent up after the caller
    call_id = _first(site.kafka, _call_of(caller), 60, site.describe)
    events = _first(site.kafka, _completed(call_id), 60, site.describe)
    answered = next(e for e in events if isinstance(e, CallAnswered))
    done = next(e for e in events if isinstance(e, CallCompleted))
    queued = next(e for e in events if isinstance(e, CallQueued))
    assert queued.queue == "general"
    assert answered.agent_id == done.agent_id == agent
    assert done.talk_seconds > 0 and done.ended_by == "caller"
    assert next(e for e in events if isinstance(e, CallOffered)).media_node.startswith(
        "site-a-media-nodes")
    first_answer = time.monotonic() - call_started
    site.agent(agent, "wrap-up-done", {})
    site.agent(agent, "ready", {})

    # helm upgrade while a call is in progress: the flow now sends "0" to the cards
    # queue. The call in progress finishes on the old pod (it drains); the next call
    # follows the new flow on the new pod.
    flow = yaml.safe_load(DEMO_FLOW.read_text())
    flow["agent"] = "queue:cards"
    upgraded = {**site.values, "mediaNodes": {**site.values["mediaNodes"],
                                              "flows": {DEMO_TENANT: flow}}}
    caller2 = "+4930123456702"
    second_phone = phone()
    long_call, long_scenario = _call(site, sipp, tmp_path, caller2, wait_ms=25000)
    call2 = _first(site.kafka, _call_of(caller2), 90, site.describe)
    # Bridged to the agent before the upgrade starts: a call in progress.
    _first(site.kafka, lambda ev: next((e for e in ev if e.subject == call2
                                        and isinstance(e.data, CallAnswered)), None),
           90, site.describe)
    upgrade_errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            site.release.upgrade(upgraded, timeout_s=600)
        except BaseException as err:  # re-raised in the test's thread below
            upgrade_errors.append(err)

    upgrading = threading.Thread(target=upgrade)
    upgrading.start()
    wait_sipp(long_call, long_scenario, timeout=120)
    wait_sipp(*second_phone, timeout=60)
    events = _first(site.kafka, _completed(call2), 90, site.describe)
    done2 = next(e for e in events if isinstance(e, CallCompleted))
    assert (done2.ended_by, done2.agent_id) == ("caller", agent), done2
    assert done2.disposition != "media-node-lost"
    upgrading.join(660)
    assert not upgrading.is_alive() and not upgrade_errors, upgrade_errors
    site.agent(agent, "wrap-up-done", {})
    site.agent(agent, "ready", {})
    caller3 = "+4930123456703"
    third_phone = phone()
    third, third_scenario = _call(site, sipp, tmp_path, caller3, wait_ms=3000)
    wait_sipp(third, third_scenario, timeout=120)
    call3 = _first(site.kafka, _call_of(caller3), 60, site.describe)
    queued3 = _first(site.kafka, lambda ev: next(
        (e.data for e in ev if e.subject == call3 and isinstance(e.data, CallQueued)), None),
        60, site.describe)
    assert queued3.queue == "cards"
    third_phone[0].kill()  # the short call may hang up before the agent is rung

    # helm test: a SIP OPTIONS on the edge and every component ready.
    output = site.release.test()
    assert "Phase:          Succeeded" in output or "Succeeded" in output, output

    # helm uninstall: nothing of the site is left, the site object included.
    site.release.uninstall()

    def leftovers() -> list[str]:
        listed = site.release.kubectl_run(
            "get", "contactcentersites,contactcenterqueues,deploy,rs,pods,svc,cm,jobs,"
            "pdb,sa,roles,rolebindings", "-o", "name")
        own = {"configmap/kube-root-ca.crt", "serviceaccount/default"}
        return [line for line in listed.split() if line not in own]

    wait_for(lambda: True if not leftovers() else None, "every object of the release gone",
             timeout=180, interval=1)
    print(f"node e2e: helm install {installed:.1f}s, first answered call "
          f"{first_answer:.1f}s after dialling")
