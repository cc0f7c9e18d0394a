"""Agent-first preview: agent's accept (HTTP) → DialCallback on Kafka, p50/p99.

    uv run python benchmarks/callbacks_preview.py [--callbacks 50]

Starts Kafka and Cassandra dc-a (devstack, or the servers named by HOTLINE_*) and the
scheduler (``python -m hotline_streams.callbacks run``) with ``--callbacks`` agents
logged in and ready and as many pending callbacks in an agent-first queue. The
scheduler offers each callback to an agent (``CallbackPreviewOffered``); for each offer
the benchmark POSTs the agent's accept to the scheduler's API and times until the
``DialCallback`` is read back from Kafka: the HTTP answer, its event through Kafka back
to the scheduler, two compare-and-sets (claim, commanded) and the command.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import DCAwareRoundRobinPolicy
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from streams_common import percentile

from devstack.settings import ExternalEndpoints
from devstack.stack import Component, Stack
from hotline_events.catalog import default_catalog
from hotline_events.envelope import decode
from hotline_events.models.agents import AgentLoggedIn, AgentReady, SkillLevel
from hotline_events.models.callbacks import CallbackPreviewOffered, DialCallback
from hotline_events.models.metrics import QueueStatistics
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics
from hotline_streams.callbacks.models import Callback
from hotline_streams.callbacks.store import CallbackStore, ensure_schema

TENANT = "bench"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--callbacks", type=int, default=50)
    args = p.parse_args()
    n = args.callbacks

    stack = Stack(external=ExternalEndpoints.from_environ())
    stack.up([Component.KAFKA_SITE_A, Component.CASSANDRA_DC_A])
    node = stack.cassandra["dc-a"]
    profile = ExecutionProfile(load_balancing_policy=DCAwareRoundRobinPolicy(local_dc="dc-a"),
                               consistency_level=ConsistencyLevel.LOCAL_QUORUM,
                               request_timeout=30)
    cluster = Cluster([node.address], port=node.port, protocol_version=5,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    session = cluster.connect()
    keyspace = f"bench_{uuid.uuid4().hex[:8]}"
    ensure_schema(session, keyspace, {"dc-a": 1})
    store = CallbackStore(session, keyspace)
    now = time.time()
    for i in range(n):
        store.create(Callback(
            callback_id=f"cb-{i:05d}", tenant=TENANT, queue="billing", call_id=f"call-{i:05d}",
            caller_token="ct1_" + f"{i:064x}", caller_number=f"+49301{i:07d}",
            reason="caller-request", priority=0, original_enqueued_at=now - 600 + i,
            requested_at=now - 60, window_start=now - 60, window_end=now + 86400,
            owner_site="site-a", due_at=now - 60))
    bootstrap = stack.kafka["site-a"].bootstrap
    prefix = f"b{uuid.uuid4().hex[:6]}."
    catalog = default_catalog().prefixed(prefix)
    ensure_topics(bootstrap, catalog, replication_factor=1)
    producer = EventProducer(bootstrap, "//hotline/site-a/bench/agents", catalog=catalog)
    for i in range(n):
        agent = f"agent-{i:04d}"
        producer.publish(AgentLoggedIn(agent_id=agent, tenant=TENANT, site="site-a",
                                       skills=(SkillLevel(skill="billing", proficiency=3),)))
        producer.publish(AgentReady(agent_id=agent, tenant=TENANT))
    producer.flush()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as policies:
        policies.write(f"{TENANT}: {{agent_first_queues: [billing], preview_timeout_s: 3600, "
                       "claim_ttl_s: 3600}\n")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "hotline_streams.callbacks", "run", "--kafka", bootstrap,
         "--topic-prefix", prefix, "--cassandra", f"{node.address}:{node.port}",
         "--datacenter", "dc-a", "--keyspace", keyspace, "--site", "site-a",
         "--policies", policies.name, "--http", "127.0.0.1:0"], stdout=subprocess.PIPE)
    try:
        assert scheduler.stdout is not None
        web = scheduler.stdout.readline().decode().split()[1]
        assert scheduler.stdout.readline().startswith(b"ready")
        producer.publish(QueueStatistics(
            tenant=TENANT, queue="billing", site="site-a", as_of=datetime.now(UTC), waiting=0,
            longest_wait_seconds=0, agents_staffed=n, agents_ready=n, agents_busy=0,
            agents_not_ready=0, estimated_wait_seconds=0))
        producer.flush()
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{prefix}",
                             "enable.auto.commit": False})
        topics = [catalog.topic_for_type(t.TYPE).name
                  for t in (CallbackPreviewOffered, DialCallback)]
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for topic in topics
                         for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions])
        offers: list[CallbackPreviewOffered] = []
        started = time.monotonic()
        while len(offers) < n:
            msg = consumer.poll(30)
            if msg is None:
                raise SystemExit(f"only {len(offers)} of {n} previews offered within 30 s")
            if msg.error():
                continue
            data = decode(msg.headers(), msg.value()).data
            if isinstance(data, CallbackPreviewOffered):
                offers.append(data)
        print(f"{n} callbacks offered to {len({o.agent_id for o in offers})} agents in "
              f"{time.monotonic() - started:.1f} s after the agents were free")
        latencies: list[float] = []
        for offer in offers:
            body = json.dumps({"agent_id": offer.agent_id, "attempt": offer.attempt,
                               "decision": "accepted"}).encode()
            sent = time.monotonic()
            request = urllib.request.Request(
                f"{web}/tenants/{TENANT}/callbacks/{offer.callback_id}/preview", data=body,
                method="POST", headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as reply:
                assert reply.status == 202
            while True:
                msg = consumer.poll(30)
                if msg is None:
                    raise SystemExit(f"no dial command within 30 s of accepting "
                                     f"{offer.callback_id}")
                if msg.error():
                    continue
                data = decode(msg.headers(), msg.value()).data
                if isinstance(data, DialCallback) and data.callback_id == offer.callback_id:
                    assert data.agent_id == offer.agent_id
                    latencies.append((time.monotonic() - sent) * 1000)
                    break
        print(f"agent accepts (POST) → DialCallback read back, {len(latencies)} previews: "
              f"p50 {percentile(latencies, 0.5):.0f} ms, p99 {percentile(latencies, 0.99):.0f} "
              f"ms, max {max(latencies):.0f} ms (mean {statistics.mean(latencies):.0f} ms)")
        consumer.close()
    finally:
        scheduler.terminate()
        scheduler.wait(30)
        cluster.shutdown()
        stack.down()


if __name__ == "__main__":
    main()
