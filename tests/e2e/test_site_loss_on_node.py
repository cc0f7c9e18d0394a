"""A whole site lost with calls in flight, on the real node: two releases of the chart
(site-a, site-b), each on its own Kafka and Cassandra datacenter, MirrorMaker 2 both
ways, the witness on etcd, and a carrier (Kamailio) in front of both edges.

In order, each step on the state the previous one left:
1. both sites answer calls the carrier spreads over them;
2. the link between the sites is cut (mirroring and probes) while both reach the
   witness: both suspect the other, the witness refuses, nobody fails over;
3. site-b's Kafka alone dies: site-b misses site-a's heartbeats but its probes answer,
   nobody fails over, and both see each other again once the broker is back;
4. the witness alone dies: both sites go on taking calls;
5. site-b goes dark — pods killed with grace 0, its Kafka broker and Cassandra node
   killed, its network dropped — while callers keep calling and two wait in its queue:
   site-a takes over with a witness lease, finishes site-b's open intervals as adopted,
   the carrier sends every new call to site-a, a witness killed and restarted
   mid-outage still holds the same lease, site-b's agents (one wrapping up a call,
   one at lunch, one ready) go on at site-a in those states when their desktops
   reconnect there, and a callback still pending at site-b is dialled by site-a once
   an agent is free there, once per attempt;
6. site-b comes back: after the hold-down site-a hands its traffic back, the lease is
   released, calls reach site-b again, and site-b dials none of the callbacks site-a
   adopted.
"""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration" / "media_nodes"))
from media_nodes_support import (
    SIPP_PCAPS,
    free_udp_port,
    render,
    sipp_command,
    start_sipp_uas,
    wait_sipp,
)

from devstack.callers import MENU, Callers
from devstack.cassandra import CassandraNode
from devstack.images import build_all
from devstack.kafka import KafkaCluster
from devstack.mirrormaker import MirrorMaker
from devstack.network import POD_GATEWAY
from devstack.process import wait_for
from devstack.pytest_plugin import KubeNode
from devstack.site_release import DEMO_TENANT
from devstack.two_sites import NodeSite, TwoSites, prepare
from devstack.witness_store import WitnessStore
from helpers.kafka_io import EventReader
from hotline_events.catalog import default_catalog, mirrored
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import AgentLoggedIn, AgentNotReady, AgentReady
from hotline_events.models.callbacks import CallbackRequested, CallbackScheduled, DialCallback
from hotline_events.models.calls import CallAbandoned, CallCompleted, CallOffered, CallQueued
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.metrics import SlaInterval
from hotline_events.pii import caller_token
from hotline_events.producer import EventProducer
from hotline_streams.service_levels.logic import interval_start

pytestmark = pytest.mark.integration

SLA_INTERVAL_S = 900  # the demo queues' service-level intervals (the default)

TOKEN_KEY = f"site-loss-e2e-{uuid.uuid4().hex}"
AUDIO = str(SIPP_PCAPS / "g711a.pcap")


@pytest.fixture(scope="module")
def phone_port() -> int:
    """Every agent of both sites rings this port on the node's address (one SIPp phone
    at a time): the workers' SIP transport is bound there."""
    return free_udp_port(POD_GATEWAY)


@pytest.fixture(scope="module")
def customer_port() -> int:
    """Callbacks are dialled here, on the node's address: a customer's phone."""
    return free_udp_port(POD_GATEWAY)


@pytest.fixture(scope="module")
def two_sites(kube_node: KubeNode, kafka_site_a: KafkaCluster, kafka_site_b: KafkaCluster,
              mirrormaker2: MirrorMaker, cassandra_two_dc: dict[str, CassandraNode],
              witness_store: WitnessStore, phone_port: int, customer_port: int,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoSites]:
    images = build_all()
    kube_node.import_images(images)
    suffix = uuid.uuid4().hex[:6]
    sites = prepare(
        kafka={"site-a": kafka_site_a, "site-b": kafka_site_b}, cassandra=cassandra_two_dc,
        mirrormaker=mirrormaker2, etcd=witness_store.url, images=images,
        kubeconfig=kube_node.kubeconfig, helm=kube_node.helm, kubectl=kube_node.kubectl,
        home=tmp_path_factory.mktemp("two-sites"), suffix=suffix, token_key=TOKEN_KEY,
        agent_uri_template=f"sip:{{agent_id}}@{POD_GATEWAY}:{phone_port}",
        keyspace=f"hotline_callbacks_{suffix}", workers=2,
        dial_uri_template=f"sip:{{number}}@{POD_GATEWAY}:{customer_port}")
    sites.start_witness()
    try:
        sites.install()
        yield sites
    finally:
        try:
            sites.uninstall()
        finally:
            sites.close()


def offered_at(sites: list[NodeSite], callers: list[str],
               timeout: float = 60) -> dict[str, str]:
    """Caller → the site whose call topic has their CallOffered: read until every
    caller is placed or ``timeout`` passes (then the ones found)."""
    tokens = {caller_token(c, TOKEN_KEY.encode()): c for c in callers}
    topic = default_catalog().topic_for_type(CallOffered.TYPE).name
    readers = {site.name: EventReader(site.kafka.bootstrap, topic) for site in sites}
    found: dict[str, str] = {}
    try:
        deadline = time.monotonic() + timeout
        while len(found) < len(tokens) and time.monotonic() < deadline:
            for name, reader in readers.items():
                with contextlib.suppress(AssertionError):  # nothing new within 1 s
                    reader.poll_until(lambda ev: None, 1.0)
                found.update({tokens[e.data.caller_token]: name for e in reader.events
                              if isinstance(e.data, CallOffered)
                              and e.data.caller_token in tokens})
        return found
    finally:
        for reader in readers.values():
            reader.close()


def calls_with(bootstrap: str, topic: str, callers: list[str], model: type[EventModel],
               timeout: float) -> dict[str, Event]:
    """Caller → their call's ``model`` event, for each of ``callers``, on ``topic`` (a
    site's call topic or its mirror at the peer); waits for all of them."""
    tokens = {caller_token(c, TOKEN_KEY.encode()): c for c in callers}
    reader = EventReader(bootstrap, topic)
    try:
        def check(events: list[Event]) -> dict[str, Event] | None:
            offered = {e.subject: tokens[e.data.caller_token] for e in events
                       if isinstance(e.data, CallOffered) and e.data.caller_token in tokens}
            found = {offered[e.subject]: e for e in events
                     if isinstance(e.data, model) and e.subject in offered}
            return found if len(found) == len(tokens) else None

        def seen() -> str:
            offered = {e.subject: tokens[e.data.caller_token] for e in reader.events
                       if isinstance(e.data, CallOffered) and e.data.caller_token in tokens}
            steps = {caller: [e.type for e in reader.events if e.subject == call]
                     for call, caller in offered.items()}
            return f"waiting for {model.TYPE} of {callers}; seen: {steps}"
        return reader.poll_until(check, timeout, describe=seen)
    finally:
        reader.close()


def desktop(site: NodeSite, agent: str, action: str,
            body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """An agent desktop's POST to a site's agent API: (status, body); 0 if unreachable."""
    request = urllib.request.Request(
        f"{site.streams_url}/tenants/{DEMO_TENANT}/agents/{agent}/{action}", method="POST",
        data=json.dumps(body or {}).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), dict(json.load(response))
    except urllib.error.HTTPError as err:
        return int(err.code), dict(json.load(err))
    except (urllib.error.URLError, OSError, ValueError) as err:
        return 0, {"error": str(err)}


def agents_at(site: NodeSite) -> dict[str, dict[str, Any]] | None:
    """Agent id → the site's view of them (the wallboard's agent list); None if the
    page does not answer."""
    try:
        with urllib.request.urlopen(f"{site.streams_url}/tenants/{DEMO_TENANT}/agents",
                                    timeout=10) as response:
            return {a["agent_id"]: a for a in json.load(response)["agents"]}
    except (urllib.error.URLError, OSError, ValueError):
        return None


def dials_of(bootstrap: str, callback_id: str, since: float,
             timeout: float = 5) -> list[Event]:
    """Every ``DialCallback`` of ``callback_id`` on a site's topic after ``since``."""
    reader = EventReader(bootstrap, default_catalog().topic_for_type(DialCallback.TYPE).name)
    try:
        with contextlib.suppress(AssertionError):  # read to the end: nothing more within
            reader.poll_until(lambda events: None, timeout)
        return [e for e in reader.events if isinstance(e.data, DialCallback)
                and e.data.callback_id == callback_id and e.time.timestamp() >= since]
    finally:
        reader.close()


def test_site_b_goes_dark_site_a_takes_every_call_and_hands_back(
        two_sites: TwoSites, sipp: Path, phone_port: int, customer_port: int,
        tmp_path: Path) -> None:
    a, b = two_sites.sites["site-a"], two_sites.sites["site-b"]
    assert two_sites.carrier is not None
    # One new call every 2 s: the survivor's two workers (four legs) carry it even while
    # two legs dial the lost site's waiting callers back (a full site answers 503).
    callers = Callers(two_sites.carrier.port, tmp_path / "callers", every_s=2.0)

    def failed(message: str) -> AssertionError:
        return AssertionError(f"{message}\n{two_sites.describe()}")

    def both_healthy() -> bool | None:
        """Each site sees the other, and neither holds the other's traffic (a site
        installed first may have taken over its peer until the peer came up)."""
        return True if (a.condition_is("PeerHealthy", "True")
                        and b.condition_is("PeerHealthy", "True")
                        and not a.status().get("failedPeers")
                        and not b.status().get("failedPeers")
                        and not two_sites.leases()) else None

    wait_for(both_healthy, "both sites seeing each other healthy", timeout=180, interval=1,
             error=failed)

    # 1. The carrier spreads calls over both sites; each is answered.
    first = [callers.place() for _ in range(4)]
    assert all(call.answered for call in first), two_sites.describe()
    where = offered_at([a, b], [c.caller for c in first])
    assert set(where) == {c.caller for c in first}, where
    assert set(where.values()) == {"site-a", "site-b"}, where

    # Site-b's agents: ann answers a caller and wraps up, bob is at lunch, cid is ready
    # (for a queue nobody calls: no caller is offered to an agent without a phone).
    run = uuid.uuid4().hex[:4]
    ann, bob, cid = f"ann-{run}", f"bob-{run}", f"cid-{run}"

    def accepted(site: NodeSite, agent: str, action: str,
                 body: dict[str, Any] | None = None) -> None:
        """Accepted once the previous action reached the routing state."""
        wait_for(lambda: True if desktop(site, agent, action, body)[0] == 202 else None,
                 f"{agent} {action} at {site.name}", timeout=60, interval=0.3, error=failed)

    def states(site: NodeSite, wanted: dict[str, str]) -> dict[str, dict[str, Any]] | None:
        seen = agents_at(site) or {}
        return seen if all(seen.get(k, {}).get("state") == v for k, v in wanted.items()) \
            else None

    phone = render("agent_answers_waits_for_bye.xml", tmp_path, agent=ann, ring_ms="300",
                   bye_timeout_ms="120000", audio_pcap=AUDIO)
    phone_proc, _ = start_sipp_uas(sipp, phone, port=phone_port, timeout_s=180,
                                   host=POD_GATEWAY)
    accepted(b, ann, "login", {"skills": {"general": 3}})
    accepted(b, ann, "ready")
    wait_for(lambda: states(b, {ann: "ready"}), "ann ready at site-b", timeout=60,
             interval=0.3, error=failed)
    talker = "+4930777000001"
    talk = render("caller_agent_then_hangup.xml", tmp_path, caller=talker, wait_ms="3000",
                  audio_pcap=AUDIO)
    talk_proc = subprocess.Popen(
        sipp_command(sipp, talk, b.ports.edge, service=MENU, timeout_s=90),
        cwd=talk.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_sipp(talk_proc, talk, timeout=120)
    wait_sipp(phone_proc, phone, timeout=60)
    talked = calls_with(b.kafka.bootstrap, default_catalog().topic_for_type(
        CallCompleted.TYPE).name, [talker], CallCompleted, 60)[talker]
    accepted(b, bob, "login", {"skills": {"general": 2}})
    accepted(b, bob, "not-ready", {"reason": "lunch"})
    accepted(b, cid, "login", {"skills": {"mortgages": 4}})
    accepted(b, cid, "ready")
    at_b = {ann: "wrap-up", bob: "not-ready", cid: "ready"}
    wait_for(lambda: states(b, at_b), f"{at_b} at site-b", timeout=60, interval=0.3,
             error=failed)

    # A caller asked site-b's IVR for a callback (as site-b's media node publishes it):
    # stored and pending there, since no agent of its queue is free at site-b.
    pending = f"cb-{uuid.uuid4()}"
    asked, number = f"call-{uuid.uuid4()}", "+493012345678"
    token = caller_token(number, TOKEN_KEY.encode())
    media_b = EventProducer(b.kafka.bootstrap, "//hotline/site-b/media-node/drill")
    for data in (CallerIdentified(call_id=asked, tenant=DEMO_TENANT, caller_number=number,
                                  caller_token=token),
                 CallbackRequested(callback_id=pending, call_id=asked, tenant=DEMO_TENANT,
                                   queue="general", reason="caller-request",
                                   caller_token=token,
                                   original_enqueued_at=datetime.now(UTC))):
        media_b.publish_event(Event(data=data, source=media_b.source))
    media_b.flush(10)
    del media_b  # its client would log every fault of site-b's Kafka below
    callbacks_topic = default_catalog().topic_for_type(CallbackScheduled.TYPE).name
    for bootstrap, topic in ((b.kafka.bootstrap, callbacks_topic),
                             (a.kafka.bootstrap, mirrored("site-b", callbacks_topic))):
        scheduled = EventReader(bootstrap, topic)
        try:
            scheduled.poll_until(lambda events: True if any(
                isinstance(e.data, CallbackScheduled) and e.data.callback_id == pending
                for e in events) else None, 60, describe=two_sites.describe)
        finally:
            scheduled.close()

    # Two callers start waiting in site-b's queue and one more queues there and hangs
    # up: an abandon in site-b's open interval (an interval has figures once a call in
    # it ended). They go through the faults below (the menu queues a silent caller
    # after about 35 s); the abandon is mirrored to site-a before site-b goes dark.
    # Three of site-b's four legs.
    waiting = Callers(two_sites.carrier.port, tmp_path / "waiting", prefix="+4930666")
    in_queue = [waiting.place(service=MENU, stay_s=300, port=b.ports.edge) for _ in range(2)]
    abandoner = waiting.place(service=MENU, stay_s=60, port=b.ports.edge)

    # 2. The link between the sites is cut; both still reach the witness: each suspects
    # the other, the witness refuses both, nobody takes over.
    two_sites.cut_link()
    wait_for(lambda: True if (a.condition_is("PeerHealthy", "False")
                              and b.condition_is("PeerHealthy", "False")) else None,
             "both sites suspecting the other", timeout=60, interval=1, error=failed)
    wait_for(lambda: True if all("only the link" in s.operator_log()
                                 for s in (a, b)) else None,
             "the witness refusing both takeovers", timeout=60, interval=1, error=failed)
    assert not a.status().get("failedPeers") and not b.status().get("failedPeers")
    assert two_sites.leases() == {}
    two_sites.heal_link()
    wait_for(both_healthy, "both sites healthy again after the link is back", timeout=120,
             interval=1, error=failed)

    # 3. Site-b's Kafka alone: site-b stops hearing site-a's heartbeats, but its probes
    # of site-a answer, so nobody even asks the witness; once the broker is back both
    # see each other again, and no takeover happened in between.
    assert b.kafka.process is not None
    failovers = (a.condition("FailedOver"), b.condition("FailedOver"))
    b.kafka.process.kill()
    wait_for(lambda: True if b.condition_is("PeerHealthy", "False") else None,
             "site-b missing site-a's heartbeats", timeout=60, interval=1, error=failed)
    b.kafka.process.start()
    b.kafka.wait_ready()
    wait_for(both_healthy, "both sites healthy after site-b's Kafka is back", timeout=120,
             interval=1, error=failed)
    assert (a.condition("FailedOver"), b.condition("FailedOver")) == failovers

    # 4. The witness alone: the sites go on taking calls and nobody fails over.
    two_sites.kill_witness()
    assert all(call.answered for call in [callers.place() for _ in range(2)])
    assert a.condition_is("PeerHealthy", "True") and b.condition_is("PeerHealthy", "True")
    two_sites.start_witness()
    assert two_sites.leases() == {}

    calls_topic = default_catalog().topic_for_type(CallQueued.TYPE).name
    queued_at_b = calls_with(b.kafka.bootstrap, calls_topic,
                             [c.caller for c in [*in_queue, abandoner]], CallQueued, 120)
    enqueued = queued_at_b.pop(abandoner.caller).data
    assert isinstance(enqueued, CallQueued)
    calls_with(a.kafka.bootstrap, mirrored("site-b", calls_topic), [abandoner.caller],
               CallAbandoned, 120)
    if (interval_start(enqueued.enqueued_at.timestamp(), SLA_INTERVAL_S)
            != interval_start(time.time() + 30, SLA_INTERVAL_S)):
        # A 15-minute boundary passed since that caller queued: site-b closed their
        # interval itself. One more abandon, in the interval open at the kill.
        abandoner = waiting.place(service=MENU, stay_s=60, port=b.ports.edge)
        calls_with(a.kafka.bootstrap, mirrored("site-b", calls_topic), [abandoner.caller],
                   CallAbandoned, 150)

    # Site-a has site-b's agents as site-b last saw them, mirrored.
    agents_topic = mirrored("site-b", default_catalog().topic_for_type(AgentLoggedIn.TYPE).name)
    mirrored_agents = EventReader(a.kafka.bootstrap, agents_topic)
    try:
        mirrored_agents.poll_until(lambda events: True if (
            any(isinstance(e.data, AgentNotReady) and e.data.agent_id == bob
                and e.data.reason == "lunch" for e in events)
            and any(isinstance(e.data, AgentReady) and e.data.agent_id == cid
                    for e in events)) else None, 60, describe=two_sites.describe)
    finally:
        mirrored_agents.close()
    calls_with(a.kafka.bootstrap, mirrored("site-b", calls_topic), [talker], CallCompleted, 60)

    # 5. Site-b goes dark while callers keep calling, and two callers wait in its queue.
    callers.start()
    wait_for(lambda: True if len(callers.calls) >= len(first) + 3 else None,
             "steady callers", timeout=30, interval=0.2, error=failed)
    killed_at = time.time()
    two_sites.go_dark("site-b")
    wait_for(lambda: True if a.condition_is("FailedOver", "True") else None,
             "site-a taking over site-b", timeout=90, interval=0.5, error=failed)
    taken_over_at = time.time()
    lease = two_sites.leases()["site-b"]
    assert lease["holder"] == "site-a"
    status = a.status()
    assert status["failedPeers"] == ["site-b"] and status["fencingToken"] == lease["token"]

    # Site-b's open service-level intervals are finished by site-a, marked adopted.
    sla = EventReader(a.kafka.bootstrap, default_catalog().topic_for_type(SlaInterval.TYPE).name)
    try:
        adopted = sla.poll_until(lambda events: [
            e.data for e in events if isinstance(e.data, SlaInterval)
            and e.data.adopted_from == "site-b"], 90, describe=two_sites.describe)
    finally:
        sla.close()
    assert {i.queue for i in adopted} <= {"general", "cards"}, adopted

    # The callers who waited in site-b's queue are offered a callback by site-a, once
    # each, keeping the time they were queued.
    lost_calls = {str(e.subject) for e in queued_at_b.values()}

    def offered_callbacks(events: list[Event]) -> list[CallbackRequested] | None:
        found = [e.data for e in events if isinstance(e.data, CallbackRequested)
                 and e.data.reason == "site-lost" and e.data.call_id in lost_calls]
        return found if {o.call_id for o in found} == lost_calls else None

    requests = EventReader(a.kafka.bootstrap,
                           default_catalog().topic_for_type(CallbackRequested.TYPE).name)
    try:
        offers = requests.poll_until(offered_callbacks, 90, describe=two_sites.describe)
    finally:
        requests.close()
    # One callback per lost caller (a replayed request carries the same id).
    assert len({(o.call_id, o.callback_id) for o in offers}) == len(lost_calls), offers
    assert all(o.original_enqueued_at.timestamp() < killed_at for o in offers), offers

    # Site-b's agents' desktops reconnect to site-a: each goes on there as site-b last
    # saw them (ann still wraps up site-b's call).
    def reconnected(agent: str) -> dict[str, Any] | None:
        status, body = desktop(a, agent, "reconnect")
        return body if status == 202 else None

    for agent in at_b:
        restored = wait_for(functools.partial(reconnected, agent),
                            f"{agent} reconnecting to site-a", timeout=60, interval=0.5,
                            error=failed)
        assert restored["restored"]["from_site"] == "site-b", restored
    at_a = wait_for(lambda: states(a, at_b), f"{at_b} at site-a", timeout=60, interval=0.3,
                    error=failed)
    assert at_a[ann]["contact"] == talked.subject, at_a[ann]
    assert at_a[bob]["not_ready_reason"] == "lunch", at_a[bob]
    assert at_a[cid]["skills"] == {"mortgages": 4}, at_a[cid]
    assert desktop(a, ann, "reconnect")[0] == 200  # a second reconnect changes nothing

    # ann finishes her wrap-up at site-a and is free: site-a dials the callback that was
    # pending at site-b (the customer is busy: each attempt is one dial, then a retry).
    customer = render("customer_busy.xml", tmp_path)
    customer_proc, _ = start_sipp_uas(sipp, customer, port=customer_port, timeout_s=400,
                                      host=POD_GATEWAY, calls=20)
    accepted(a, ann, "wrap-up-done")
    first_dial = wait_for(lambda: dials_of(a.kafka.bootstrap, pending, killed_at, 2) or None,
                          "site-a dialling the callback pending at site-b", timeout=120,
                          interval=1, error=failed)
    assert {e.data.site for e in first_dial if isinstance(e.data, DialCallback)} == {"site-a"}

    # The witness dies and comes back mid-outage: it forgot nothing.
    two_sites.kill_witness()
    two_sites.start_witness()
    assert two_sites.leases()["site-b"] == lease

    wait_for(lambda: True if sum(c.started >= killed_at for c in callers.calls) >= 12
             else None, "callers during the outage", timeout=90, interval=0.5, error=failed)
    calls = callers.stop()
    during = [c for c in calls if c.started >= killed_at]
    where = offered_at([a], [c.caller for c in during])
    refused = [c.caller for c in during if not c.answered]
    # Every caller who dialled after site-b went dark reached site-a: the carrier
    # retried those that met the dark site first.
    assert not refused, (refused, two_sites.describe())
    assert set(where) == {c.caller for c in during}, where
    first_answer = min(c.started for c in during) - killed_at

    for call in in_queue:  # their calls went down with site-b's media
        call.proc.kill()

    # 6. Site-b comes back: after the hold-down, site-a hands its traffic back.
    two_sites.restore("site-b")
    wait_for(lambda: True if a.condition_is("FailedOver", "False") else None,
             "site-a handing site-b back", timeout=300, interval=1, error=failed)
    assert two_sites.leases() == {}
    assert not a.status().get("failedPeers")

    def reaches_site_b() -> bool | None:
        call = callers.place()
        if not call.answered:
            return None
        return True if offered_at([b], [call.caller], 10) else None

    wait_for(reaches_site_b, "a call answered at site-b again", timeout=180, interval=1,
             error=failed)
    # Site-a keeps the agents who went on there.
    assert set(at_b) <= set(agents_at(a) or {}), agents_at(a)
    for agent in at_b:  # their shift ends: the session's Kafka keeps the demo tenant
        accepted(a, agent, "logout")

    # The callback site-a adopted: one dial per attempt, all from site-a; site-b, back,
    # dialled none of it.
    customer_proc.kill()
    dials = dials_of(a.kafka.bootstrap, pending, killed_at)
    attempts = [e.data.attempt for e in dials if isinstance(e.data, DialCallback)]
    assert attempts and len(attempts) == len(set(attempts)) == len({e.id for e in dials}), dials
    assert dials_of(b.kafka.bootstrap, pending, killed_at) == []
    print(f"site loss on the node: site-a took over {taken_over_at - killed_at:.1f}s after "
          f"the kill; {len(during)} calls during the outage, none refused; first one "
          f"dialled {first_answer:.1f}s after the kill; {len(at_b)} agents of site-b went "
          f"on at site-a; its pending callback dialled {len(attempts)} time(s), once per "
          f"attempt")
