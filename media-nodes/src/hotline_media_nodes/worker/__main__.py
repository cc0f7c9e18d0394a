"""``python -m hotline_media_nodes.worker``: one pjsua2 endpoint answering IVR calls.

Prints ``ready sip=<host>:<port>`` on stdout once it accepts calls. Logs go to
stderr. SIGTERM drains: new calls get 503 with Retry-After, active calls may finish
until ``--drain-seconds``, then the worker exits.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from hotline_events.catalog import default_catalog
from hotline_events.consumer import ContractConsumer
from hotline_events.models.callbacks import DialCallback
from hotline_events.models.metrics import WaitEstimate
from hotline_events.models.routing import RoutingDecision
from hotline_events.pii import CallerTokenKeyMissing, token_key
from hotline_events.producer import ProducerError
from hotline_media_nodes.bridging.adapters import CommandReader
from hotline_media_nodes.health import HealthServer, Snapshot
from hotline_media_nodes.ivr.loader import FlowError, load_flow
from hotline_media_nodes.ivr.validate import FlowRejected, validate_flow
from hotline_media_nodes.pool.adapters import ReportingPublisher
from hotline_media_nodes.prompts import MissingPrompts, durations, load_prompts
from hotline_media_nodes.publishing import BufferedPublisher
from hotline_media_nodes.recording.logic import RecordingKeyMissing, recording_key
from hotline_media_nodes.recording.models import RecordingStore
from hotline_media_nodes.worker import logic, pjsip
from hotline_media_nodes.worker.calls import BridgeConfig, Controller, Identity

log = logging.getLogger("hotline.media.worker")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m hotline_media_nodes.worker")
    p.add_argument("--flow", type=Path, action="append", required=True,
                   help="a tenant's IVR flow YAML (repeat for several tenants)")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--sip-port", type=int, default=0, help="UDP port; 0 = kernel-chosen")
    p.add_argument("--allow", action="append", required=True,
                   help="trunk address or CIDR allowed to call (repeatable)")
    p.add_argument("--kafka", required=True, help="bootstrap servers")
    p.add_argument("--topic-prefix", default="", help="prefix of every catalog topic")
    p.add_argument("--site", default="site-a")
    p.add_argument("--media-node", default="mn-local-0")
    p.add_argument("--prompt-cache", type=Path, default=None)
    p.add_argument("--drain-seconds", type=float, default=30.0)
    p.add_argument("--heartbeat-seconds", type=float, default=5.0)
    p.add_argument("--retry-after", type=int, default=30)
    p.add_argument("--health-port", type=int, default=None,
                   help="serve /healthz /readyz /metrics on this TCP port (0: kernel-chosen)")
    p.add_argument("--event-buffer", type=int, default=10_000,
                   help="events kept while Kafka is down; beyond it the oldest are dropped")
    p.add_argument("--report-calls", action="store_true",
                   help="print call+/queue/call-/draining lines for a supervising pool")
    p.add_argument("--ring-seconds", type=float, default=15.0,
                   help="ring an agent this long before RONA (AgentNoAnswer, back to queue)")
    p.add_argument("--recordings", type=Path, default=None,
                   help="record every bridged call, sealed with AES-GCM, under this directory "
                        "(key: HOTLINE_RECORDING_KEY base64, or HOTLINE_RECORDING_KEY_FILE)")
    p.add_argument("--recording-spool", type=Path, default=None,
                   help="where the recorder writes while a call lasts (default: /dev/shm, "
                        "memory, so plaintext audio never reaches a disk)")
    p.add_argument("--dial-uri-template", default="sip:{number}@127.0.0.1:5060",
                   help="callbacks: where a customer's number is dialled (the carrier trunk)")
    p.add_argument("--dial-ring-seconds", type=float, default=30.0)
    p.add_argument("--dial-group", default=None,
                   help="consumer group sharing the site's dial commands (default "
                        "hotline-media-nodes-<site>: each command goes to one worker)")
    p.add_argument("--agent-uri-template", default="sip:{agent_id}@127.0.0.1:5090",
                   help="the agent's phone when a routing decision carries no agent_uri")
    return p.parse_args(argv)


def recording_store(root: Path, spool: Path | None) -> RecordingStore:
    """The store, its key (``RecordingKeyMissing`` if none) and a private spool."""
    try:
        key = recording_key()
    except RecordingKeyMissing as err:
        raise RecordingKeyMissing(f"recording is on (--recordings {root}) but {err}") from None
    root.mkdir(parents=True, exist_ok=True)
    shm = Path("/dev/shm")
    base = spool or (shm if shm.is_dir() else root)
    private = Path(tempfile.mkdtemp(prefix="hotline-recording-spool-", dir=base))  # 0700
    return RecordingStore(root, key, private)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    faulthandler.enable()  # a crash inside pjsua2 leaves the Python stack in the log
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        flows = [load_flow(path) for path in args.flow]
        prompts = {}
        for flow in flows:
            prompts[flow.tenant] = load_prompts(flow, args.prompt_cache)
            validate_flow(flow, durations(prompts[flow.tenant]))
        by_number = logic.flows_by_number(flows)
        key = token_key()
        allow = logic.parse_allow_list(args.allow)
        store = (recording_store(args.recordings, args.recording_spool)
                 if args.recordings is not None else None)
    except (FlowError, FlowRejected, MissingPrompts, CallerTokenKeyMissing, ValueError,
            RecordingKeyMissing, OSError) as err:
        log.critical("cannot start: %s", err)
        return 2

    catalog = default_catalog()
    if args.topic_prefix:
        catalog = catalog.prefixed(args.topic_prefix)
    health = (HealthServer(args.bind, args.health_port,
                           {"media_node": args.media_node, "site": args.site})
              if args.health_port is not None else None)
    buffered = BufferedPublisher(args.kafka, f"//hotline/{args.site}/media-node/{args.media_node}",
                                 catalog=catalog, bound=args.event_buffer)
    producer = ReportingPublisher(buffered, args.report_calls)
    endpoint = pjsip.Endpoint(args.bind, args.sip_port, f"hotline-media-node/{args.media_node}")
    # Each dial command goes to one worker of the site (a shared group); stale ones are
    # skipped by age, so a new group may safely start from the earliest record.
    dials = ContractConsumer(args.kafka, args.dial_group or f"hotline-media-nodes-{args.site}",
                             [catalog.topic_for_type(DialCallback.TYPE).name], catalog=catalog)
    commands = CommandReader(args.kafka, [catalog.topic_for_type(RoutingDecision.TYPE),
                                          catalog.topic_for_type(WaitEstimate.TYPE)],
                             f"media-node-{args.media_node}")
    controller = Controller(
        Identity(args.site, args.media_node, args.retry_after), by_number, prompts, allow,
        producer, key,
        dialler=lambda uri: pjsip.dial(endpoint.account, uri, endpoint.events),
        bridging_config=BridgeConfig(args.ring_seconds, args.agent_uri_template,
                                     args.dial_uri_template, args.dial_ring_seconds),
        recording_store=store)
    if store is None:
        log.warning("recording is off (no --recordings): bridged calls are not recorded")

    drain_deadline: list[float] = []

    def on_sigterm(_sig: int, _frame: FrameType | None) -> None:
        if not controller.draining:
            controller.draining = True
            drain_deadline.append(time.monotonic() + args.drain_seconds)
            if args.report_calls:
                print("draining", flush=True)
            log.warning("SIGTERM: draining; new calls get 503 (Retry-After %d s), %d active "
                        "call(s) may run up to %.0f s", args.retry_after,
                        controller.active_calls, args.drain_seconds)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigterm)
    print(f"ready sip={args.bind}:{endpoint.port}", flush=True)
    if health is not None:
        print(f"health http://{args.bind}:{health.port}/", flush=True)
    log.info("worker %s ready on udp %s:%d for %s", args.media_node, args.bind, endpoint.port,
             ", ".join(sorted(by_number)))
    next_beat = 0.0
    try:
        while True:
            endpoint.poll(20)
            while endpoint.events:
                controller.handle(endpoint.events.popleft())
            for command in commands.poll():
                if isinstance(command.data, RoutingDecision):
                    controller.route(command.data)
                elif isinstance(command.data, WaitEstimate):
                    controller.estimate(command.data)
            for _ in range(10):
                dial = dials.poll(0.001)
                if dial is None:
                    break
                if isinstance(dial.event.data, DialCallback):
                    controller.dial_callback(dial.event.data, dial.event.time,
                                             dial.event.traceparent)
            controller.tick()
            now = time.monotonic()
            if now >= next_beat:
                controller.publish(None, controller.heartbeat())
                next_beat = now + args.heartbeat_seconds
            status = buffered.poll()
            if health is not None:
                health.update(Snapshot(
                    phase="draining" if controller.draining else "ready",
                    active_calls=controller.active_calls, capacity=pjsip.MAX_CALLS,
                    calls_total=producer.calls_total, events_buffered=status.buffered,
                    events_dropped=status.dropped, degraded=status.link.reason))
            if drain_deadline and (controller.active_calls == 0 or now >= drain_deadline[0]):
                break
    finally:
        controller.hang_up_all("worker stopping", "node-drained")
        for _ in range(10):
            endpoint.poll(10)
            while endpoint.events:
                controller.handle(endpoint.events.popleft())
        pjsip.reap_retired(everything=True)  # recorders close their files on the next frames
        for _ in range(5):
            endpoint.poll(10)
        controller.finish_recordings()
        controller.publish(None, controller.heartbeat())
        controller.release_calls()
        endpoint.shutdown()
        if health is not None:
            health.update(Snapshot(phase="stopping"))
        commands.close()
        dials.close()
        if store is not None:
            shutil.rmtree(store.spool, ignore_errors=True)
        try:
            buffered.flush(10)
        except ProducerError as err:
            log.error("events lost at shutdown: %s", err)
    log.info("worker %s stopped", args.media_node)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
