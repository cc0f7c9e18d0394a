"""Callbacks at 10,000 pending: claims per second, and agent-free → dial-command latency.

    uv run python benchmarks/callbacks_claims.py [--pending 10000] [--dials 200]

Starts Cassandra dc-a + dc-b and Kafka (devstack, or the servers named by HOTLINE_*),
stores ``--pending`` callbacks, then measures:

1. claims/s with no contention: threads in one process claiming distinct callbacks
   (SERIAL lightweight transactions, Paxos across both datacenters);
2. claims/s with two claimants (one per datacenter) racing over the same callbacks:
   winners/s, and how many attempts lost or had to be settled;
3. with the rest still pending, the scheduler (``python -m hotline_streams.callbacks``)
   running: one more free agent is announced (QueueStatistics on Kafka) and the time
   until its DialCallback is read back from Kafka, ``--dials`` times: p50/p99.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy
from confluent_kafka import OFFSET_END, Consumer, TopicPartition
from streams_common import percentile

from devstack.settings import ExternalEndpoints
from devstack.stack import Component, Stack
from hotline_events.catalog import default_catalog
from hotline_events.envelope import decode
from hotline_events.models.callbacks import DialCallback
from hotline_events.models.metrics import QueueStatistics
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics
from hotline_streams.callbacks.models import Callback, Status
from hotline_streams.callbacks.store import CallbackStore, ensure_schema

TENANT = "bench"


def session(address: str, port: int, dc: str) -> tuple[Cluster, Session]:
    profile = ExecutionProfile(load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=dc),
                               consistency_level=ConsistencyLevel.LOCAL_QUORUM,
                               request_timeout=30)
    cluster = Cluster([address], port=port, protocol_version=5,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    return cluster, cluster.connect()


def pending(n: int, now: float) -> list[Callback]:
    return [Callback(callback_id=f"cb-{i:06d}", tenant=TENANT, queue="billing",
                     call_id=f"call-{i:06d}", caller_token="ct1_" + f"{i:064x}",
                     caller_number=f"+49301{i:07d}", reason="caller-request",
                     priority=5 if i % 10 == 0 else 0, original_enqueued_at=now - 3600 + i,
                     requested_at=now - 60, window_start=now - 60, window_end=now + 86400,
                     owner_site="site-a", due_at=now - 60) for i in range(n)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pending", type=int, default=10_000)
    p.add_argument("--uncontended", type=int, default=2000)
    p.add_argument("--contended", type=int, default=1000)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--dials", type=int, default=200)
    args = p.parse_args()

    stack = Stack(external=ExternalEndpoints.from_environ())
    stack.up([Component.KAFKA_SITE_A, Component.CASSANDRA_DC_A, Component.CASSANDRA_DC_B])
    a, b = stack.cassandra["dc-a"], stack.cassandra["dc-b"]
    cluster_a, sess_a = session(a.address, a.port, "dc-a")
    cluster_b, sess_b = session(b.address, b.port, "dc-b")
    keyspace = f"bench_{uuid.uuid4().hex[:8]}"
    ensure_schema(sess_a, keyspace, {"dc-a": 1, "dc-b": 1})
    store_a, store_b = CallbackStore(sess_a, keyspace), CallbackStore(sess_b, keyspace)
    now = time.time()
    callbacks = pending(args.pending, now)
    started = time.monotonic()
    with ThreadPoolExecutor(args.threads) as pool:
        stored = sum(pool.map(store_a.create, callbacks))
    if stored != len(callbacks):
        raise SystemExit(f"only {stored} of {len(callbacks)} callbacks were stored")
    print(f"stored {len(callbacks)} pending callbacks in {time.monotonic() - started:.1f} s "
          f"({len(callbacks) / (time.monotonic() - started):.0f}/s, LWT inserts)")

    def claim(store: CallbackStore, cb: Callback, owner: str) -> bool:
        return store.change(cb, status=Status.CLAIMED, attempt=1, claim_id=owner,
                            claim_owner=owner, claim_expires=now + 3600) is not None

    solo = callbacks[:args.uncontended]
    started = time.monotonic()
    with ThreadPoolExecutor(args.threads) as pool:
        won = sum(pool.map(lambda cb: claim(store_a, cb, "solo"), solo))
    elapsed = time.monotonic() - started
    print(f"uncontended: {won} claims in {elapsed:.1f} s = {won / elapsed:.0f} claims/s "
          f"({args.threads} threads, one datacenter's coordinator, SERIAL Paxos)")

    raced = callbacks[args.uncontended:args.uncontended + args.contended]
    wins: dict[str, int] = {"dc-a": 0, "dc-b": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def racer(dc: str, store: CallbackStore) -> None:
        barrier.wait()
        with ThreadPoolExecutor(args.threads // 2) as pool:
            got = sum(pool.map(lambda cb: claim(store, cb, dc), raced))
        with lock:
            wins[dc] += got

    started = time.monotonic()
    threads = [threading.Thread(target=racer, args=(dc, st))
               for dc, st in (("dc-a", store_a), ("dc-b", store_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = wins["dc-a"] + wins["dc-b"]
    print(f"contended (two claimants, one per datacenter, same {len(raced)} callbacks): "
          f"{total} won ({wins}) in {elapsed:.1f} s = {total / elapsed:.0f} claims/s; "
          f"double claims: {total - len(raced)}")

    # The rest stay pending: the scheduler dials one per newly free agent.
    bootstrap = stack.kafka["site-a"].bootstrap
    prefix = f"b{uuid.uuid4().hex[:6]}."
    catalog = default_catalog().prefixed(prefix)
    ensure_topics(bootstrap, catalog, replication_factor=1)
    left = args.pending - args.uncontended - args.contended
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as policies:
        policies.write(f"{TENANT}: {{claim_ttl_s: 3600}}\n")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "hotline_streams.callbacks", "run", "--kafka", bootstrap,
         "--topic-prefix", prefix, "--cassandra", f"{a.address}:{a.port}",
         "--datacenter", "dc-a", "--keyspace", keyspace, "--site", "site-a",
         "--policies", policies.name], stdout=subprocess.PIPE)
    try:
        assert scheduler.stdout is not None and scheduler.stdout.readline().startswith(b"ready")
        commands = catalog.topic_for_type(DialCallback.TYPE).name
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{prefix}",
                             "enable.auto.commit": False})
        parts = consumer.list_topics(commands, timeout=10).topics[commands].partitions
        consumer.assign([TopicPartition(commands, p, OFFSET_END) for p in parts])
        time.sleep(2)  # let the assignment settle at the end offsets before the first dial
        producer = EventProducer(bootstrap, "//hotline/site-a/bench/callbacks", catalog=catalog)
        busy = args.contended + args.uncontended  # claimed above: counted as in flight
        latencies: list[float] = []
        for i in range(1, min(args.dials, left) + 1):
            stats = QueueStatistics(
                tenant=TENANT, queue="billing", site="site-a", as_of=datetime.now(UTC),
                waiting=0, longest_wait_seconds=0, agents_staffed=busy + i,
                agents_ready=busy + i, agents_busy=0, agents_not_ready=0,
                estimated_wait_seconds=0)
            sent = time.monotonic()
            producer.publish(stats)
            producer.flush()
            while True:
                msg = consumer.poll(10)
                if msg is None:
                    raise SystemExit(f"no dial command within 10 s of free agent {i}")
                if msg.error():
                    continue
                event = decode(msg.headers(), msg.value())
                if isinstance(event.data, DialCallback):
                    latencies.append((time.monotonic() - sent) * 1000)
                    break
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"agent free → DialCallback read back, {len(latencies)} dials with {left} "
              f"pending: p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
              f"max {max(latencies):.0f} ms (mean {statistics.mean(latencies):.0f} ms)")
        consumer.close()
    finally:
        scheduler.terminate()
        scheduler.wait(30)
        cluster_a.shutdown()
        cluster_b.shutdown()
        stack.down()


if __name__ == "__main__":
    main()
