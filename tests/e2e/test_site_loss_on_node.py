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
   the carrier sends every new call to site-a, and a witness killed and restarted
   mid-outage still holds the same lease;
6. site-b comes back: after the hold-down site-a hands its traffic back, the lease is
   released and calls reach site-b again.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.callers import MENU, Callers
from devstack.cassandra import CassandraNode
from devstack.images import build_all
from devstack.kafka import KafkaCluster
from devstack.mirrormaker import MirrorMaker
from devstack.network import POD_GATEWAY
from devstack.process import wait_for
from devstack.pytest_plugin import KubeNode
from devstack.site_release import free_node_port
from devstack.two_sites import NodeSite, TwoSites, prepare
from devstack.witness_store import WitnessStore
from helpers.kafka_io import EventReader
from hotline_events.catalog import default_catalog, mirrored
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import CallAbandoned, CallOffered, CallQueued
from hotline_events.models.metrics import SlaInterval
from hotline_events.pii import caller_token
from hotline_streams.service_levels.logic import interval_start

pytestmark = pytest.mark.integration

SLA_INTERVAL_S = 900  # the demo queues' service-level intervals (the default)

TOKEN_KEY = f"site-loss-e2e-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def two_sites(kube_node: KubeNode, kafka_site_a: KafkaCluster, kafka_site_b: KafkaCluster,
              mirrormaker2: MirrorMaker, cassandra_two_dc: dict[str, CassandraNode],
              witness_store: WitnessStore,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoSites]:
    images = build_all()
    kube_node.import_images(images)
    suffix = uuid.uuid4().hex[:6]
    sites = prepare(
        kafka={"site-a": kafka_site_a, "site-b": kafka_site_b}, cassandra=cassandra_two_dc,
        mirrormaker=mirrormaker2, etcd=witness_store.url, images=images,
        kubeconfig=kube_node.kubeconfig, helm=kube_node.helm, kubectl=kube_node.kubectl,
        home=tmp_path_factory.mktemp("two-sites"), suffix=suffix, token_key=TOKEN_KEY,
        agent_uri_template=f"sip:{{agent_id}}@{POD_GATEWAY}:{free_node_port()}",
        keyspace=f"hotline_callbacks_{suffix}", workers=2)
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


def test_site_b_goes_dark_site_a_takes_every_call_and_hands_back(
        two_sites: TwoSites, tmp_path: Path) -> None:
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
    print(f"site loss on the node: site-a took over {taken_over_at - killed_at:.1f}s after "
          f"the kill; {len(during)} calls during the outage, none refused; first one "
          f"dialled {first_answer:.1f}s after the kill")
