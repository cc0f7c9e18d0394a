"""Agents of a lost site go on at the other, over real two-site Kafka and MirrorMaker 2.

Two stream workers, site-a and site-b, each on its own Kafka, each following the
other's agents on the mirrored topics. Agents work at site-b (ready, on a break, and
wrapping up a call routed to them); their desktops then reconnect to site-a, which logs
them in with their skills in the state site-b last saw. Site-b, which sees them log in
at site-a later (as a site back from an outage with stale agents would), logs them out,
so no two sites offer them calls.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from devstack.kafka import KafkaCluster
from devstack.mirrormaker import MirrorMaker
from devstack.process import wait_for
from helpers.kafka_io import EventReader, wait_for_topic
from helpers.streams_worker import StreamWorker, agent_states, free_port
from hotline_events.catalog import Catalog, default_catalog, mirrored
from hotline_events.envelope import Event
from hotline_events.models.agents import AgentLoggedIn, AgentLoggedOut
from hotline_events.models.calls import CallAnswered, CallCompleted, CallQueued
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics

pytestmark = pytest.mark.integration

TENANT = """
tenant: acme
queues:
  billing:
    required_skills: [billing]
    ring_timeout_s: 600
"""


@dataclass
class Site:
    name: str
    kafka: KafkaCluster
    worker: StreamWorker

    def api(self, agent: str, action: str, body: dict[str, Any] | None = None
            ) -> tuple[int, Any]:
        return self.worker.post(f"/tenants/acme/agents/{agent}/{action}", body)

    def states(self) -> dict[str, str]:
        return agent_states(self.worker.view("acme"))

    def agents(self) -> dict[str, dict[str, Any]]:
        listed: dict[str, Any] = json.loads(self.worker.get("/tenants/acme/agents"))
        return {a["agent_id"]: a for a in listed["agents"]}

    def failed(self, message: str) -> AssertionError:
        return AssertionError(f"{message}\n{self.name}'s worker:\n{self.worker.tail()}")


@pytest.fixture(scope="module")
def catalog(kafka_site_a: KafkaCluster, kafka_site_b: KafkaCluster,
            mirrormaker2: MirrorMaker) -> Catalog:
    isolated = default_catalog().prefixed(f"pa{uuid.uuid4().hex[:6]}.")
    for cluster in (kafka_site_a, kafka_site_b):
        ensure_topics(cluster.bootstrap, isolated, replication_factor=1)
    agents = isolated.topic_for_type(AgentLoggedIn.TYPE).name
    calls = isolated.topic_for_type(CallQueued.TYPE).name
    # MirrorMaker notices new topics every 2 s: nothing is produced before it mirrors.
    for bootstrap, peer in ((kafka_site_a.bootstrap, "site-b"), (kafka_site_b.bootstrap,
                                                                  "site-a")):
        wait_for_topic(bootstrap, mirrored(peer, agents), 90)
        wait_for_topic(bootstrap, mirrored(peer, calls), 90)
    return isolated


@pytest.fixture(scope="module")
def sites(kafka_site_a: KafkaCluster, kafka_site_b: KafkaCluster, catalog: Catalog,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    prefix = catalog.topic_for_type(CallQueued.TYPE).name.removesuffix("cc.call.events")
    out: dict[str, Site] = {}
    try:
        for name, peer, kafka in (("site-a", "site-b", kafka_site_a),
                                  ("site-b", "site-a", kafka_site_b)):
            work = tmp_path_factory.mktemp(name)
            (work / "tenants").mkdir()
            (work / "tenants" / "acme.yaml").write_text(TENANT)
            port = free_port()
            env = {**os.environ, "HOTLINE_KAFKA_SITE_A": kafka.bootstrap,
                   "HOTLINE_SITE": name, "HOTLINE_PEER_SITES": peer,
                   "HOTLINE_STREAMS_APP_ID": f"streams-{prefix.rstrip('.')}",
                   "HOTLINE_TOPIC_PREFIX": prefix, "HOTLINE_TENANTS_DIR": str(work / "tenants"),
                   "HOTLINE_STREAMS_WEB_PORT": str(port),
                   "HOTLINE_STREAMS_DATA_DIR": str(work / "data")}
            out[name] = Site(name, kafka, StreamWorker(env=env, log_path=work / "worker",
                                                       port=port))
            out[name].worker.start()
        yield out
    finally:
        for site in out.values():
            site.worker.stop()


def test_agents_of_site_b_go_on_at_site_a_and_site_b_lets_them_go(
        sites: dict[str, Site], catalog: Catalog) -> None:
    a, b = sites["site-a"], sites["site-b"]
    run = uuid.uuid4().hex[:4]
    ann, bob, cid = f"ann-{run}", f"bob-{run}", f"cid-{run}"

    def accepted(site: Site, agent: str, action: str,
                 body: dict[str, Any] | None = None) -> None:
        """Accepted once the previous action reached the routing state."""
        wait_for(lambda: True if site.api(agent, action, body)[0] == 202 else None,
                 f"{agent} {action} at {site.name}", timeout=60, interval=0.2,
                 error=site.failed)

    # At site-b: ann takes a call and wraps it up, bob goes on a break, cid is ready
    # (with a skill no queue needs: the call goes to ann).
    accepted(b, ann, "login", {"skills": {"billing": 3}, "languages": ["de"]})
    accepted(b, ann, "ready")
    wait_for(lambda: True if b.states().get(ann) == "ready" else None, "ann ready",
             timeout=60, interval=0.2, error=b.failed)
    call = f"call-{uuid.uuid4()}"
    media = EventProducer(b.kafka.bootstrap, "//hotline/site-b/media-node/test",
                          catalog=catalog)
    now = datetime.now(UTC)
    media.publish_event(Event(data=CallQueued(call_id=call, tenant="acme", queue="billing",
                                              enqueued_at=now),
                              source=media.source))
    media.flush()
    wait_for(lambda: True if b.states().get(ann) == "reserved" else None,
             "the call offered to ann", timeout=60, interval=0.2, error=b.failed)
    for data in (CallAnswered(call_id=call, tenant="acme", queue="billing", agent_id=ann,
                              wait_seconds=1.0),
                 CallCompleted(call_id=call, tenant="acme", queue="billing", agent_id=ann,
                               talk_seconds=20, hold_seconds=0, wrap_up_seconds=0,
                               disposition="resolved", ended_by="caller")):
        media.publish_event(Event(data=data, source=media.source))
    media.flush()
    accepted(b, bob, "login", {"skills": {"billing": 2}})
    accepted(b, bob, "not-ready", {"reason": "lunch"})
    accepted(b, cid, "login", {"skills": {"mortgages": 4}, "senior": True})
    accepted(b, cid, "ready")
    wanted = {ann: "wrap-up", bob: "not-ready", cid: "ready"}
    wait_for(lambda: True if all(b.states().get(k) == v for k, v in wanted.items()) else None,
             f"{wanted} at site-b", timeout=60, interval=0.2, error=b.failed)
    logged_in_b = {k: v for k, v in b.agents().items() if k in wanted}
    # Site-b is lost only once what it knew is mirrored to site-a (its desktops reconnect
    # after that); here it lives on, so wait for the mirror.
    agent_topic = catalog.topic_for_type(AgentLoggedIn.TYPE).name
    mirrored_b = EventReader(a.kafka.bootstrap, mirrored("site-b", agent_topic))
    try:
        mirrored_b.poll_until(lambda events: True if {
            (type(e.data).__name__, getattr(e.data, "agent_id", None)) for e in events
        } >= {("AgentNotReady", bob), ("AgentReady", cid)} else None, 90)
    finally:
        mirrored_b.close()
    call_topic = catalog.topic_for_type(CallQueued.TYPE).name
    mirrored_calls = EventReader(a.kafka.bootstrap, mirrored("site-b", call_topic))
    try:
        mirrored_calls.poll_until(lambda events: True if any(
            isinstance(e.data, CallCompleted) and e.data.call_id == call for e in events)
            else None, 90)
    finally:
        mirrored_calls.close()

    # An agent neither site knows is told to log in (once site-a read site-b's agents).
    assert a.api(f"nobody-{run}", "reconnect")[0] in (404, 503)

    # Their desktops reconnect to site-a: each goes on as site-b last saw them.
    def reconnected(agent: str) -> dict[str, Any] | None:
        status, body = a.api(agent, "reconnect")
        assert status in (202, 404, 503), (status, body)  # 404/503: not mirrored yet
        return body if status == 202 else None

    restored = {agent: wait_for(lambda agent=agent: reconnected(agent),  # type: ignore[misc]
                                f"{agent} restored at site-a", timeout=90, interval=0.3,
                                error=a.failed) for agent in wanted}
    assert restored[ann]["restored"] == {"from_site": "site-b", "state": "wrap-up",
                                         "reason": None, "call_id": call}
    assert restored[ann]["published"] == [AgentLoggedIn.TYPE,
                                          "hotline.agent.wrap-up-started.v1"]
    assert restored[bob]["restored"]["reason"] == "lunch"
    wait_for(lambda: True if all(a.states().get(k) == v for k, v in wanted.items()) else None,
             f"{wanted} at site-a", timeout=60, interval=0.2, error=a.failed)
    here = a.agents()
    assert here[ann]["contact"] == call
    assert here[bob]["not_ready_reason"] == "lunch"
    for agent in wanted:
        assert (here[agent]["skills"], here[agent]["languages"]) == (
            logged_in_b[agent]["skills"], logged_in_b[agent]["languages"])
    # A desktop that reconnects twice changes nothing; an unknown agent is told to log in.
    assert a.api(ann, "reconnect")[0] == 200
    status, body = a.api(f"nobody-{run}", "reconnect")
    assert status == 404 and "log in" in body["error"], body

    # ann finishes the wrap-up of site-b's call at site-a and is ready there.
    accepted(a, ann, "wrap-up-done")
    wait_for(lambda: True if a.states().get(ann) == "ready" else None, "ann ready at site-a",
             timeout=60, interval=0.2, error=a.failed)

    # Site-b sees them log in at site-a later than at site-b: it logs them out, so site-b
    # offers them no calls.
    wait_for(lambda: True if not set(wanted) & set(b.states()) else None,
             "site-b logging out the agents who moved to site-a", timeout=90, interval=0.3,
             error=b.failed)
    assert "logged in at site-a after logging in here" in b.worker.tail(lines=400)

    # Site-a keeps them: site-b's logouts, once mirrored back, are not a move.
    mirrored_agents = EventReader(a.kafka.bootstrap, mirrored(
        "site-b", catalog.topic_for_type(AgentLoggedIn.TYPE).name))
    try:
        mirrored_agents.poll_until(lambda events: True if {
            e.data.agent_id for e in events if isinstance(e.data, AgentLoggedOut)
        } >= set(wanted) else None, 90)
    finally:
        mirrored_agents.close()
    accepted(a, bob, "ready")
    wait_for(lambda: True if a.states().get(bob) == "ready" else None, "bob ready at site-a",
             timeout=60, interval=0.2, error=a.failed)
    assert set(wanted) <= set(a.states()), a.states()


def test_reconnect_refuses_nothing_it_does_not_know(sites: dict[str, Site]) -> None:
    """Without a peer's agent, reconnect is a 404 naming the field; a path action that
    is not one is a 404 listing the actions."""
    a = sites["site-a"]
    ghost = f"ghost-{uuid.uuid4().hex[:4]}"
    status, body = wait_for(lambda: (lambda got: got if got[0] != 503 else None)(
        a.api(ghost, "reconnect")), "site-a reading site-b's agents", timeout=60,
        error=a.failed)
    assert (status, body["field"]) == (404, "agent_id"), body
    status, body = a.api("ann", "teleport")
    assert status == 404 and "reconnect" in body["error"], body
