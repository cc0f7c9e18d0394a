"""``python -m hotline_streams.callbacks``: the callback scheduler of one site.

    run     consume call/callback/identity/queue-statistics events, persist requests in
            Cassandra, dial this site's callbacks when an agent is free (default)
    adopt   take over another site's open callbacks under the witness's fencing token
            (the operator's SiteAdoptionRequested does the same while ``run`` runs)
    schema  create the keyspace and tables

With ``--peer`` the scheduler also follows the peer site's mirrored call topics, so
that on a takeover its waiting callers get callbacks. Cassandra or Kafka down: see
``runner`` (nothing is lost, nothing holds up the rest, SIGTERM ends it in seconds).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
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
from hotline_streams.callbacks.peer import PeerQueues
from hotline_streams.callbacks.resilience import DeadLetters
from hotline_streams.callbacks.runner import Runner
from hotline_streams.callbacks.scheduler import Scheduler
from hotline_streams.callbacks.store import CallbackStore, ensure_schema
from hotline_streams.callbacks.web import Health, serve

log = logging.getLogger("hotline_streams.callbacks")

BACKOFF_MAX_S = 10.0
REQUEST_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 10.0  # a loaded node may take longer than the driver's 2 s to answer
STOP_GRACE_S = 5.0  # after SIGTERM: a Cassandra request still blocking is not waited for


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
    p.add_argument("--peer", default=None,
                   help="the other site: its waiting callers are followed on its mirrored "
                        "call topics and offered callbacks if it is lost")
    p.add_argument("--peer-lookback-seconds", type=float, default=3600.0,
                   help="how far back the peer's mirrored calls are read at start")
    p.add_argument("--instance", default=f"callbacks-{uuid.uuid4().hex[:8]}")
    p.add_argument("--policies", default=None, help="YAML: tenant → callback policy")
    p.add_argument("--tick-seconds", type=float, default=0.5)
    p.add_argument("--fence-check-seconds", type=float, default=5.0,
                   help="how often a running scheduler re-reads its site's fence")
    p.add_argument("--from-site", help="adopt: the failed site whose callbacks to take")
    p.add_argument("--fencing-token", type=int, help="adopt: the witness's token")
    p.add_argument("--http", default=None, metavar="HOST:PORT",
                   help="serve /healthz /readyz /metrics here (port 0: kernel-chosen)")
    return p.parse_args(argv)


def connect(address: str, datacenter: str) -> tuple[Cluster, Session]:
    host, _, port = address.rpartition(":")
    delay = 0.5
    while True:
        profile = ExecutionProfile(
            load_balancing_policy=DCAwareRoundRobinPolicy(local_dc=datacenter),
            consistency_level=ConsistencyLevel.LOCAL_QUORUM, request_timeout=REQUEST_TIMEOUT_S)
        # A new Cluster each time: one whose first connection failed is shut down for good.
        cluster = Cluster([host], port=int(port), protocol_version=5,
                          connect_timeout=CONNECT_TIMEOUT_S,
                          control_connection_timeout=CONNECT_TIMEOUT_S,
                          execution_profiles={EXEC_PROFILE_DEFAULT: profile})
        try:
            return cluster, cluster.connect()
        except Exception as exc:  # NoHostAvailable and friends: wait for Cassandra
            cluster.shutdown()
            log.error("Cassandra at %s (dc %s) unreachable: %s; retrying in %.1f s",
                      address, datacenter, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    cluster, session = connect(args.cassandra, args.datacenter)
    peer: PeerQueues | None = None
    try:
        if args.command == "schema":
            replication = dict(
                (dc, int(n)) for dc, n in (item.split("=") for item in
                                           args.replication.split(",") if item)
            ) or {args.datacenter: 1}
            ensure_schema(session, args.keyspace, replication)
            print(f"keyspace {args.keyspace} ready ({replication})")
            return 0
        store = CallbackStore(session, args.keyspace, site=args.site)
        if args.kafka is None:
            print("--kafka is required for run and adopt", file=sys.stderr)
            return 2
        source = f"//hotline/{args.site}/callbacks/{args.instance}"
        catalog = default_catalog()
        if args.topic_prefix:
            catalog = catalog.prefixed(args.topic_prefix)
        producer = EventProducer(args.kafka, source, catalog=catalog)
        if args.peer and args.command == "run":
            peer = PeerQueues(args.kafka, catalog, args.peer, args.peer_lookback_seconds)
        provider = prometheus_provider()

        def down_datacenters() -> set[str]:
            # is_up is None for hosts the driver never connects to (other datacenters
            # while they answer): only those it saw go down count.
            return {h.datacenter for h in cluster.metadata.all_hosts()
                    if h.datacenter and h.is_up is False}

        scheduler = Scheduler(store, producer, site=args.site, instance=args.instance,
                              policy_of=load_policies(args.policies),
                              meter=provider.get_meter("hotline_streams.callbacks"),
                              datacenter=args.datacenter, peer=peer,
                              down_datacenters=down_datacenters,
                              fence_check_s=args.fence_check_seconds)
        if args.command == "adopt":
            if not args.from_site or not args.fencing_token:
                print("adopt needs --from-site and --fencing-token", file=sys.stderr)
                return 2
            scheduler.adopt(args.from_site, args.fencing_token)
            print(f"took over {args.from_site}'s callbacks (fencing token "
                  f"{args.fencing_token})")
            return 0
        return run(scheduler, args, catalog)
    finally:
        if peer is not None:
            peer.close()
        cluster.shutdown()


def run(scheduler: Scheduler, args: argparse.Namespace, catalog: Catalog) -> int:
    topics = sorted({catalog.topic_for_type(t.TYPE).name for t in (
        CallbackRequested, CallQueued, CallerIdentified, QueueStatistics,
        SiteAdoptionRequested, AgentReady, RoutingDecision)})
    health = Health()
    stopping = scheduler.stopping

    def stop(signum: int, _frame: FrameType | None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.info("signal %d: stopping (the event in hand is not committed unless handled)",
                 signum)

        def last_resort() -> None:
            # Every wait of ours ends on ``stopping``; a Cassandra or Kafka call blocking
            # longer is abandoned: what was not committed is read again after the restart.
            log.critical("still not stopped %.0f s after the signal (blocked in a Cassandra "
                         "or Kafka call); exiting now", STOP_GRACE_S)
            logging.shutdown()
            os._exit(0)

        timer = threading.Timer(STOP_GRACE_S, last_resort)
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
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
    group = f"{args.topic_prefix}hotline-callbacks-{args.site}"
    consumer = ContractConsumer(args.kafka, group, topics, catalog=catalog)
    runner = Runner(scheduler, consumer, DeadLetters(args.kafka, catalog, group), health,
                    tick_s=args.tick_seconds)
    print(f"ready site={args.site} instance={args.instance}", flush=True)
    runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
