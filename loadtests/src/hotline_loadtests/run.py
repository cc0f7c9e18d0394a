"""``./hotline loadtest``: the platform on real servers, a Locust run of SIP callers and
agent users against it, the report, then everything stopped.

    hotline-loadtest [--shape steady|month-start|promotion-surge] [--headless|--web]
                     [--duration S] [--base-rate CALLS/S] [--agents N] ... [-- LOCUST ARGS]

Kafka and Cassandra dc-a are the ones named by ``HOTLINE_KAFKA_SITE_A`` and
``HOTLINE_CASSANDRA_DC_A`` (a running ``./hotline run`` or a test session) or new ones
started here; the edge, media-node pool, stream worker, callback scheduler and the
agents' SIPp phone are always started for the run (devstack.platform).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import FrameType

from devstack.platform import start_for_load_test
from devstack.process import ServerError
from devstack.stack import Component, Stack
from hotline_events.catalog import default_catalog
from hotline_events.pii import KEY_ENV
from hotline_events.topics import ensure_topics
from hotline_loadtests.shapes.models import ShapeKind

LOCUSTFILE = Path(__file__).with_name("locustfile_calls.py")


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog="./hotline loadtest", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=[k.value for k in ShapeKind], default="steady")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--headless", dest="web", action="store_false", default=False,
                      help="run the shape once and exit with the report (default)")
    mode.add_argument("--web", dest="web", action="store_true",
                      help="Locust's web UI (--web-port); press Start there, Stop and quit "
                           "(Ctrl-C) for the report")
    p.add_argument("--web-port", type=int, default=8089)
    p.add_argument("--duration", type=float, default=120.0, help="seconds of arrivals")
    p.add_argument("--base-rate", type=float, default=0.2, help="calls per second")
    p.add_argument("--peak-factor", type=float, default=5.0)
    p.add_argument("--agents", type=int, default=6)
    p.add_argument("--dialers", type=int, default=1)
    p.add_argument("--patience", type=float, default=60.0, help="mean patience, seconds")
    p.add_argument("--talk", type=float, default=15.0, help="mean talk time, seconds")
    p.add_argument("--wrap-up", type=float, default=3.0)
    p.add_argument("--media-workers", type=int, default=3,
                   help="pjsua2 workers in the media-node pool (2 callers each)")
    p.add_argument("--report-dir", default="loadtest-report")
    p.add_argument("--seed", type=int, default=1)
    args, rest = p.parse_known_args(argv)
    if rest and rest[0] == "--":
        rest = rest[1:]
    return args, rest


def locust_argv(args: argparse.Namespace, kafka: str, edge: str, streams: str,
                extra: list[str]) -> list[str]:
    users = args.agents + args.dialers
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", streams,
            "--users", str(users), "--spawn-rate", str(max(1, users)),
            "--hotline-kafka", kafka, "--hotline-sip-edge", edge,
            "--hotline-shape", args.shape, "--hotline-base-rate", str(args.base_rate),
            "--hotline-peak-factor", str(args.peak_factor),
            "--hotline-duration", str(args.duration), "--hotline-agents", str(args.agents),
            "--hotline-dialers", str(args.dialers), "--hotline-patience", str(args.patience),
            "--hotline-talk", str(args.talk), "--hotline-wrap-up", str(args.wrap_up),
            "--hotline-report-dir", str(Path(args.report_dir).resolve()),
            "--hotline-seed", str(args.seed)]
    if args.web:
        argv += ["--web-port", str(args.web_port)]
    else:
        argv += ["--headless", "--only-summary"]
    return argv + extra


def main(argv: list[str] | None = None) -> int:
    args, extra = parse(argv)
    stop: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(signum)  # Locust (same process group) gets Ctrl-C too and ends

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Caller tokens: the media nodes and the SIP callers must share the key.
    os.environ.setdefault(KEY_ENV, f"hotline-loadtest-{uuid.uuid4().hex}")
    stack = Stack()
    platform = None
    try:
        started = time.monotonic()
        # Cassandra dc-a for the callback scheduler, which is part of the platform.
        stack.up([Component.KAFKA_SITE_A, Component.CASSANDRA_DC_A])
        kafka = stack.kafka["site-a"].bootstrap
        cassandra = stack.cassandra["dc-a"].contact_point
        ensure_topics(kafka, default_catalog(), replication_factor=1)
        print(f"loadtest: Kafka {kafka}; starting the platform", flush=True)
        platform = start_for_load_test(stack.run_dir, kafka, cassandra,
                                       workers=args.media_workers)
        print(f"loadtest: platform up in {time.monotonic() - started:.0f} s: SIP edge "
              f"{platform.edge}, streams {platform.streams_url}, logs "
              f"{stack.run_dir / 'platform'}", flush=True)
        if args.web:
            print(f"loadtest: Locust web UI on http://127.0.0.1:{args.web_port} "
                  f"({args.agents + args.dialers} users: {args.agents} agents, "
                  f"{args.dialers} dialers); Ctrl-C here ends the run and writes the report",
                  flush=True)
        if stop:
            return 130
        locust = subprocess.run(locust_argv(args, kafka, platform.edge, platform.streams_url,
                                            extra), check=False)
        health = {k: v for k, v in platform.health().items() if v}
        for name, problem in health.items():
            print(f"loadtest: {name} failed during the run: {problem}", file=sys.stderr)
        print(f"loadtest: Locust exited {locust.returncode}; report in "
              f"{Path(args.report_dir).resolve() / 'report.html'}", flush=True)
        return locust.returncode or (1 if health else 0)
    except ServerError as exc:
        print(f"loadtest: the platform did not come up:\n{exc}", file=sys.stderr)
        return 1
    finally:
        if platform is not None:
            platform.down()
        stack.down()
        print("loadtest: stopped", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
