"""The whole local stack's call capacity: the highest sustained arrival rate (calls/s)
and concurrent calls before errors appear or the service level collapses.

    uv run python benchmarks/stack_capacity.py [--rates 0.25,0.5,1,1.5,2,3] [--step 60]
        [--agents 20] [--media-workers 6] [--talk 5]

Starts Kafka (or uses HOTLINE_KAFKA_SITE_A) and the platform as ``./hotline loadtest``
does (Kamailio edge, media-node pool, stream worker, the agents' SIPp phone), then for
each rate runs the SIP callers and ample agent users (Locust, headless) for ``--step``
seconds of arrivals. A step holds when Locust recorded no failure, fewer than 5 % of
callers abandoned and 80 % of the answered waited at most 20 s (the demo queues'
target). The ramp stops at the first step that does not hold. Printed per step: calls,
answered/abandoned/failed, waits, concurrent calls (live caller SIPp processes), and
CPU % (of one core) and RSS per component from psutil samples every 2 s; the load
average at the end of the step. Call figures are the callers' (Locust); the SLA
topic's are in each step's report (``--out``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import threading
import uuid
from collections import defaultdict
from pathlib import Path

import psutil

from devstack.platform import Platform, start_for_load_test
from devstack.stack import Component, Stack
from hotline_events.catalog import default_catalog
from hotline_events.pii import KEY_ENV
from hotline_events.topics import ensure_topics
from hotline_loadtests import run as loadtest

COMPONENTS = ("Kafka", "stream worker", "media workers", "Kamailio", "SIPp", "Locust")


def kafka_pid(bootstrap: str) -> int | None:
    port = int(bootstrap.rsplit(":", 1)[1])
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


class Sampler(threading.Thread):
    """CPU % and RSS per component, and live caller SIPp processes, every ``every`` s."""

    def __init__(self, platform: Platform, kafka: int | None, locust: int,
                 every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.roots = {p.name: p.pid for p in platform.processes if p.pid}
        self.kafka, self.locust, self.every = kafka, locust, every
        self.cache: dict[int, psutil.Process] = {}
        self.cpu: dict[str, list[float]] = defaultdict(list)
        self.rss: dict[str, list[float]] = defaultdict(list)
        self.calls: list[int] = []
        self.done = threading.Event()

    def _tree(self, pid: int | None) -> list[psutil.Process]:
        if pid is None:
            return []
        try:
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _classify(self) -> dict[str, list[psutil.Process]]:
        groups: dict[str, list[psutil.Process]] = defaultdict(list)
        groups["Kafka"] = self._tree(self.kafka)
        groups["stream worker"] = self._tree(self.roots.get("stream worker"))
        for proc in self._tree(self.roots.get("media-node pool")):
            name = _name(proc)
            groups["Kamailio" if name == "kamailio" else "media workers"].append(proc)
        groups["SIPp"] = self._tree(self.roots.get("agent phones"))
        for proc in self._tree(self.locust):
            groups["SIPp" if _name(proc) == "sipp" else "Locust"].append(proc)
        return groups

    def run(self) -> None:
        while not self.done.wait(self.every):
            groups = self._classify()
            self.calls.append(sum(1 for p in self._tree(self.locust) if _name(p) == "sipp"))
            for component, procs in groups.items():
                cpu = rss = 0.0
                for proc in procs:
                    cached = self.cache.setdefault(proc.pid, proc)
                    try:
                        cpu += cached.cpu_percent(None)  # since this process's last sample
                        rss += cached.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
                self.cpu[component].append(cpu)
                self.rss[component].append(rss / 2**20)


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except psutil.NoSuchProcess:
        return ""


def step_result(csv_prefix: Path) -> dict[str, float]:
    rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(
        (csv_prefix.parent / f"{csv_prefix.name}_stats.csv").open())}

    def count(name: str, kind: str = "sip call") -> int:
        row = rows.get((kind, name))
        return int(row["Request Count"]) if row else 0

    failures = int(rows[("", "Aggregated")]["Failure Count"]) if ("", "Aggregated") in rows \
        else 0
    wait = rows.get(("sip call", "wait→answered"))
    return {"answered": count("call answered"), "abandoned": count("call abandoned"),
            "failed": count("call failed"), "failures": failures,
            "not_queued": count("call not-queued"),
            "wait_p80_ms": float(wait["80%"]) if wait else 0.0,
            "wait_p95_ms": float(wait["95%"]) if wait else 0.0,
            "setup_p95_ms": float(rows[("sip call", "setup INVITE→200")]["95%"])
            if ("sip call", "setup INVITE→200") in rows else 0.0}


def holds(r: dict[str, float]) -> bool:
    placed = r["answered"] + r["abandoned"] + r["failed"] + r["not_queued"]
    return (placed > 0 and r["failures"] == 0 and r["abandoned"] <= 0.05 * placed
            and r["wait_p80_ms"] <= 20_000)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", default="0.25,0.5,1,1.5,2,3")
    p.add_argument("--step", type=float, default=60.0, help="seconds of arrivals per rate")
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--media-workers", type=int, default=6)
    p.add_argument("--talk", type=float, default=5.0)
    p.add_argument("--patience", type=float, default=60.0)
    p.add_argument("--out", default="/tmp/hotline-stack-capacity")
    args = p.parse_args()
    os.environ.setdefault(KEY_ENV, f"hotline-capacity-{uuid.uuid4().hex}")
    stack = Stack()
    platform: Platform | None = None
    results: list[tuple[float, dict[str, float], Sampler, tuple[float, float, float]]] = []
    try:
        stack.up([Component.KAFKA_SITE_A, Component.CASSANDRA_DC_A])
        kafka = stack.kafka["site-a"].bootstrap
        ensure_topics(kafka, default_catalog(), replication_factor=1)
        platform = start_for_load_test(stack.run_dir, kafka, stack.cassandra["dc-a"].contact_point,
                                       workers=args.media_workers)
        print(f"platform up: edge {platform.edge}, {args.media_workers} media workers "
              f"({2 * args.media_workers} callers at once), {args.agents} agents", flush=True)
        for rate in (float(r) for r in args.rates.split(",")):
            out = Path(args.out) / f"rate-{rate:g}"
            out.mkdir(parents=True, exist_ok=True)
            la_args, _ = loadtest.parse([
                "--headless", "--duration", str(args.step), "--base-rate", str(rate),
                "--agents", str(args.agents), "--talk", str(args.talk),
                "--patience", str(args.patience), "--wrap-up", "1",
                "--report-dir", str(out)])
            argv = loadtest.locust_argv(la_args, kafka, platform.edge, platform.streams_url,
                                        ["--csv", str(out / "locust"), "--loglevel", "WARNING"])
            locust = subprocess.Popen(argv, stdout=(out / "locust.log").open("w"),
                                      stderr=subprocess.STDOUT)
            sampler = Sampler(platform, kafka_pid(kafka), locust.pid)
            sampler.start()
            code = locust.wait(args.step + 3 * args.patience + 10 * args.talk + 300)
            sampler.done.set()
            sampler.join()
            r = step_result(out / "locust")
            r["locust_exit"] = code
            load = os.getloadavg()
            results.append((rate, r, sampler, load))
            print(f"rate {rate:g}/s: answered {r['answered']:.0f}, abandoned "
                  f"{r['abandoned']:.0f}, failed {r['failed']:.0f}, Locust failures "
                  f"{r['failures']:.0f}, wait p80 {r['wait_p80_ms'] / 1000:.1f} s, setup p95 "
                  f"{r['setup_p95_ms']:.0f} ms, concurrent calls mean "
                  f"{statistics.fmean(sampler.calls or [0]):.1f} max "
                  f"{max(sampler.calls or [0])}, load average {load[0]:.1f}", flush=True)
            if not holds(r) or any(platform.health().values()):
                print(f"rate {rate:g}/s does not hold; stopping the ramp", flush=True)
                break
    finally:
        if platform is not None:
            platform.down()
        stack.down()
    held = [x for x in results if holds(x[1])]
    if not held:
        print("no rate held: the first step already failed (see the step's locust.log)")
        return 1
    rate, r, sampler, load = held[-1]
    print(f"\nhighest sustained arrival rate: {rate:g} calls/s "
          f"({args.step:.0f} s steps, talk mean {args.talk:g} s, {args.agents} agents, "
          f"{args.media_workers} media workers)")
    print(f"concurrent calls at that rate: mean {statistics.fmean(sampler.calls or [0]):.1f}, "
          f"max {max(sampler.calls or [0])}")
    print(f"load average (1/5/15 min) at the end of that step: "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'component':<15} {'CPU % mean':>10} {'CPU % max':>10} {'RSS MiB mean':>13} "
          f"{'RSS MiB max':>12}")
    for name in COMPONENTS:
        cpu, rss = sampler.cpu.get(name) or [0.0], sampler.rss.get(name) or [0.0]
        print(f"{name:<15} {statistics.fmean(cpu):>10.1f} {max(cpu):>10.1f} "
              f"{statistics.fmean(rss):>13.0f} {max(rss):>12.0f}")
    print(json.dumps({"rate": rate, **r}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
