"""``python -m hotline_streams.callbacks``: the callback scheduler of one site.

    run     consume call/callback/identity/queue-statistics events, persist requests in
            Cassandra, dial callbacks when an agent is free (default)
    adopt   take over another site's open callbacks (the operator runs this on failover)
    schema  create the keyspace and tables

Cassandra or Kafka down: the event in hand is retried with backoff (its offset is not
committed before it is handled), and the log says what is waiting on what.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
import uuid
from types import FrameType

from cassandra import ConsistencyLevel
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import DCAwareRoundRobinPolicy

from hotline_events.catalog import Catalog, default_catalog
from hotline_events.consumer import ContractConsumer
from hotline_events.models import EventModel
from hotline_events.models.agents import AgentReady
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import CallQueued
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.metrics import QueueStatistics
from hotline_events.models.routing import RoutingDecision
from hotline_events.models.sites import SiteAdoptionRequested
from hotline_events.producer import EventProducer
from hotline_streams.callbacks.config import load_policies
from hotline_streams.callbacks.metrics import prometheus_provider
from hotline_streams.callbacks.scheduler import Scheduler
from hotline_streams.callbacks.store import CallbackStore, ensure_schema
from hotline_streams.callbacks.web import Health, serve

log = logging.getLogger("hotline_streams.callbacks")

BACKOFF_MAX_S = 10.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m hotline_streams.callbacks")
    p.add_argument("command", nargs="?", default="run", choices=["run", "adopt", "schema"])
    p.add_argument("--kafka", help="bootstrap servers of this site's Kafka")
    p.add_argument("--cassandra", required=True, help="host:port of a node in this site's DC")
    p.add_argument("--datacenter", required=True, help="this site's Cassandra datacenter")
    p.add_argument("--keyspace", default="hotline_callbacks")
    p.add_argument("--replication", default="",
                   help="dc=replicas,… for `schema` (default: 1 in --datacenter)")
    p.add_argument("--topic-prefix", default="", help="prefix of every catalog topic")
    p.add_argument("--site", default="site-a")
    p.add_argument("--instance", default=f"callbacks-{uuid.uuid4().hex[:8]}")
    p.add_argument("--policies", default=None, help="YAML: tenant → callback policy")
    p.add_argument("--tick-seconds", type=float, default=0.5)
    p.add_argument("--from-site", help="adopt: the failed site whose callbacks to take")
    p.add_argument("--http", default=None, metavar="HOST:PORT",
                   help="serve /healthz /readyz /metrics here (port 0: kernel-chosen)")
    return p.parse_args(argv)


def connect(address: str, datacenter: str) -> tuple[Cluster, Session]:
    host, _, port = address.rpartition(":")
    profile = ExecutionProfile(load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=datacenter),
                               consistency_level=ConsistencyLevel.LOCAL_QUORUM,
                               request_timeout=20)
    cluster = Cluster([host], port=int(port), protocol_version=5,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    delay = 0.5
    while True:
        try:
            return cluster, cluster.connect()
        except Exception as exc:  # NoHostAvailable and friends: wait for Cassandra
            log.error("Cassandra at %s (dc %s) unreachable: %s; retrying in %.1f s",
                      address, datacenter, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    cluster, session = connect(args.cassandra, args.datacenter)
    try:
        if args.command == "schema":
            replication = dict(
                (dc, int(n)) for dc, n in (item.split("=") for item in
                                           args.replication.split(",") if item)
            ) or {args.datacenter: 1}
            ensure_schema(session, args.keyspace, replication)
            print(f"keyspace {args.keyspace} ready ({replication})")
            return 0
        store = CallbackStore(session, args.keyspace)
        if args.kafka is None:
            print("--kafka is required for run and adopt", file=sys.stderr)
            return 2
        source = f"//hotline/{args.site}/callbacks/{args.instance}"
        catalog = default_catalog()
        if args.topic_prefix:
            catalog = catalog.prefixed(args.topic_prefix)
        producer = EventProducer(args.kafka, source, catalog=catalog)
        policies = load_policies(args.policies)
        provider = prometheus_provider()
        scheduler = Scheduler(store, producer, site=args.site, instance=args.instance,
                              policy_of=policies,
                              meter=provider.get_meter("hotline_streams.callbacks"))
        if args.command == "adopt":
            if not args.from_site:
                print("adopt needs --from-site", file=sys.stderr)
                return 2
            print(f"adopted {scheduler.adopt(args.from_site)} callback(s)")
            return 0
        return run(scheduler, args, catalog)
    finally:
        cluster.shutdown()


def run(scheduler: Scheduler, args: argparse.Namespace, catalog: Catalog) -> int:
    topics = sorted({catalog.topic_for_type(t.TYPE).name for t in (
        CallbackRequested, CallQueued, CallerIdentified, QueueStatistics,
        SiteAdoptionRequested, AgentReady, RoutingDecision)})
    health = Health()
    if args.http:
        host, _, port = args.http.rpartition(":")
        # The desktop's preview answers go out under their own source: the scheduler
        # skips its own publications, and these must come back to it.
        answers = EventProducer(args.kafka, f"{scheduler.producer.source}/preview-api",
                                catalog=catalog)

        def publish(data: EventModel) -> None:
            answers.publish(data)
            answers.flush()

        server = serve(host or "127.0.0.1", int(port), health,
                       lambda tenant, callback_id, body: scheduler.answer_preview(
                           tenant, callback_id, body, publish))
        address, bound = server.server_address[0], server.server_address[1]
        print(f"http http://{address!s}:{bound}", flush=True)
    consumer = ContractConsumer(args.kafka, f"{args.topic_prefix}hotline-callbacks-{args.site}",
                                topics,
                                catalog=catalog)
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"ready site={args.site} instance={args.instance}", flush=True)
    next_tick = 0.0
    try:
        while not stopping:
            received = consumer.poll(min(args.tick_seconds, 0.2))
            if received is not None:
                retrying(lambda r=received: scheduler.handle(r.event),
                         f"{received.event.type} {received.event.id}", health)
                if isinstance(received.event.data, QueueStatistics):
                    next_tick = 0.0  # an agent may have come free: dial without waiting
            if time.monotonic() >= next_tick:
                retrying(scheduler.tick, "the scheduling tick", health)
                health.last_tick_ok = scheduler.last_tick_ok
                next_tick = time.monotonic() + args.tick_seconds
        consumer.commit()
    finally:
        consumer.close()
    return 0


def retrying(action: object, what: str, health: Health) -> None:
    """Run ``action`` until it succeeds: Cassandra or Kafka being down delays the
    event, never drops it (its offset is stored only after it was handled)."""
    delay = 0.5
    while True:
        try:
            action()  # type: ignore[operator]
            health.problem = None
            return
        except Exception as exc:
            health.problem = f"{what}: {exc}"
            log.error("handling %s failed: %s; retrying in %.1f s (nothing is committed "
                      "until it succeeds)", what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)


if __name__ == "__main__":
    sys.exit(main())
