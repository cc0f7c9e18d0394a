"""The pool's loop: start workers, read their news, restart the dead, steer the edge."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import queue
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from hotline_events.catalog import default_catalog
from hotline_events.producer import ProducerError
from hotline_media_nodes.edge.render import EdgeConfig
from hotline_media_nodes.health import HealthServer, Snapshot
from hotline_media_nodes.health.logic import Phase
from hotline_media_nodes.pool import logic
from hotline_media_nodes.pool.adapters import Edge, Line, spawn
from hotline_media_nodes.pool.models import CallBegan, Slot
from hotline_media_nodes.publishing import BufferedPublisher
from hotline_media_nodes.worker.pjsip import MAX_CALLS

log = logging.getLogger("hotline.media.pool")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m hotline_media_nodes.pool",
        description="A media node: N pjsua2 workers, supervised, behind a Kamailio edge.")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--flow", type=Path, action="append", required=True)
    p.add_argument("--allow", action="append", required=True,
                   help="trunk CIDR allowed to call (the edge and the workers check it)")
    p.add_argument("--kafka", required=True)
    p.add_argument("--topic-prefix", default="")
    p.add_argument("--site", default="site-a")
    p.add_argument("--media-node", default="mn-local-0")
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--sip-port-base", type=int, default=0,
                   help="worker i listens on base+i (0: kernel-chosen ports)")
    p.add_argument("--health-port-base", type=int, default=None,
                   help="worker i serves /healthz on base+i (default: workers serve none)")
    p.add_argument("--health-port", type=int, default=None,
                   help="the pool's own /healthz /readyz /metrics (0: kernel-chosen)")
    p.add_argument("--prompt-cache", type=Path, default=None)
    p.add_argument("--drain-seconds", type=float, default=30.0)
    p.add_argument("--heartbeat-seconds", type=float, default=5.0)
    p.add_argument("--edge-listen", default=None,
                   help="host:port: run a local Kamailio edge there, steered by the pool")
    p.add_argument("--workdir", type=Path, default=None,
                   help="logs, dispatcher.list, kamailio.cfg (default: a temp dir)")
    p.add_argument("--worker-arg", action="append", default=[],
                   help="extra argument passed to every worker (repeatable)")
    return p.parse_args(argv)


class Pool:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="hotline-pool-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.lines: queue.Queue[Line] = queue.Queue()
        self.slots = [Slot(i, f"{args.media_node}.w{i}",
                           args.sip_port_base + i if args.sip_port_base else 0,
                           args.health_port_base + i if args.health_port_base else None)
                      for i in range(args.workers)]
        self.procs: dict[int, subprocess.Popen[str]] = {}
        self.draining = False
        self.calls_lost = 0
        self.calls_total = 0
        catalog = default_catalog()
        if args.topic_prefix:
            catalog = catalog.prefixed(args.topic_prefix)
        self.publisher = BufferedPublisher(
            args.kafka, f"//hotline/{args.site}/media-node/{args.media_node}", catalog=catalog)
        self.edge_cfg: EdgeConfig | None = None
        self.edge: Edge | None = None
        if args.edge_listen:
            self.edge_cfg = EdgeConfig(listen=args.edge_listen, trunks=tuple(args.allow),
                                       destinations=(),
                                       control_socket=f"unix:{self.workdir}/kamailio.ctl")
            self.edge = Edge(self.edge_cfg, self.workdir, run_kamailio=True)
        self.health = (HealthServer(args.bind, args.health_port,
                                    {"media_node": args.media_node, "site": args.site})
                       if args.health_port is not None else None)

    def worker_argv(self, slot: Slot) -> list[str]:
        a = self.args
        argv = [sys.executable, "-m", "hotline_media_nodes.worker", "--report-calls",
                "--kafka", a.kafka, "--site", a.site, "--media-node", slot.name,
                "--bind", a.bind, "--sip-port", str(slot.sip_port),
                "--drain-seconds", str(a.drain_seconds),
                "--heartbeat-seconds", str(a.heartbeat_seconds)]
        for flow in a.flow:
            argv += ["--flow", str(flow)]
        for cidr in a.allow:
            argv += ["--allow", cidr]
        if a.topic_prefix:
            argv += ["--topic-prefix", a.topic_prefix]
        if a.prompt_cache:
            argv += ["--prompt-cache", str(a.prompt_cache)]
        if slot.health_port is not None:
            argv += ["--health-port", str(slot.health_port)]
        return argv + list(a.worker_arg)

    def start(self, slot: Slot, now: float) -> None:
        slot.generation += 1
        slot.state, slot.address, slot.started_at = "starting", None, now
        self.procs[slot.index] = spawn(self.worker_argv(slot), self.workdir / f"{slot.name}.log",
                                       self.lines, slot.index, slot.generation)
        log.info("worker %s started (pid %d)", slot.name, self.procs[slot.index].pid)

    def reap(self, now: float) -> None:
        for slot in self.slots:
            proc = self.procs.get(slot.index)
            if proc is None or proc.poll() is None:
                continue
            del self.procs[slot.index]
            drained = slot.state == "draining" and proc.returncode == 0
            lost = logic.on_death(slot, now)
            if self.draining:
                log.info("worker %s exited (%d) while the node drains", slot.name,
                         proc.returncode)
                continue
            if drained and not lost:
                slot.start_at = now
                log.info("worker %s drained and exited; starting a fresh one", slot.name)
                continue
            slot.restarts += 1
            log.error("worker %s (pid %d) died with exit %d holding %d call(s); they are "
                      "reported lost; restarting it in %.0f s (see %s)", slot.name, proc.pid,
                      proc.returncode, len(lost), slot.start_at - now,
                      self.workdir / f"{slot.name}.log")
            for event in logic.lost_call_events(lost):
                try:
                    self.publisher.publish(event)
                    self.calls_lost += 1
                except Exception as err:  # the pool must go on
                    log.error("call %s: lost-call event not published (%s)", event.call_id, err)

    def read_news(self, wait: float) -> None:
        try:
            index, generation, line = self.lines.get(timeout=wait)
        except queue.Empty:
            return
        while True:
            slot = self.slots[index]
            if line is not None and generation == slot.generation:
                news = logic.parse_line(line)
                if news is not None:
                    logic.apply_news(slot, news)
                    self.calls_total += isinstance(news, CallBegan)
            try:
                index, generation, line = self.lines.get_nowait()
            except queue.Empty:
                return

    def steer_edge(self) -> None:
        if self.edge is None or self.edge_cfg is None:
            return
        wanted = dataclasses.replace(self.edge_cfg, destinations=logic.destination_set(self.slots))
        self.edge.apply(wanted)

    def snapshot(self) -> Snapshot:
        status = self.publisher.status
        ready = [s for s in self.slots if s.state == "ready"]
        phase: Phase = "draining" if self.draining else "ready" if ready else "starting"
        return Snapshot(phase=phase, active_calls=sum(len(s.calls) for s in self.slots),
                        capacity=MAX_CALLS * len(ready),
                        calls_total=self.calls_total, events_buffered=status.buffered,
                        events_dropped=status.dropped, degraded=status.link.reason,
                        workers=len(ready), workers_restarted=sum(s.restarts for s in self.slots),
                        calls_lost=self.calls_lost)

    def run(self) -> int:
        def on_signal(signum: int, _frame: FrameType | None) -> None:
            if not self.draining:
                self.draining = True
                log.warning("signal %d: node draining; workers stop taking calls, active "
                            "calls may run up to %.0f s", signum, self.args.drain_seconds)
                for proc in self.procs.values():
                    proc.send_signal(signal.SIGTERM)
                for slot in self.slots:
                    if slot.state in ("ready", "starting"):
                        slot.state = "draining"

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        now = time.monotonic()
        for slot in self.slots:
            self.start(slot, now)
        print(f"pool {self.args.media_node}: {len(self.slots)} workers starting; logs in "
              f"{self.workdir}" + (f"; edge sip={self.args.edge_listen}" if self.edge else "")
              + (f"; health http://{self.args.bind}:{self.health.port}/metrics"
                 if self.health else ""), flush=True)
        announced = False
        next_beat = 0.0
        hard_stop: float | None = None
        try:
            while True:
                self.read_news(0.1)
                now = time.monotonic()
                self.reap(now)
                if self.draining:
                    hard_stop = hard_stop or now + self.args.drain_seconds + 15
                    if not self.procs:
                        break
                    if now >= hard_stop:
                        log.error("workers still alive %.0f s after the drain deadline; "
                                  "killing them", now - hard_stop + self.args.drain_seconds)
                        for proc in self.procs.values():
                            proc.kill()
                else:
                    for slot in self.slots:
                        if slot.state == "dead" and now >= slot.start_at:
                            self.start(slot, now)
                self.steer_edge()
                if not announced and any(s.state == "ready" for s in self.slots):
                    announced = True
                    print("ready " + " ".join(f"{s.name}={s.address}" for s in self.slots
                                              if s.address), flush=True)
                self.publisher.poll()
                if now >= next_beat:
                    self.publisher.publish(logic.node_heartbeat(
                        self.args.media_node, self.args.site, self.slots, self.draining))
                    next_beat = now + self.args.heartbeat_seconds
                if self.health is not None:
                    self.health.update(self.snapshot())
        finally:
            for proc in self.procs.values():
                proc.kill()
            if self.edge is not None:
                self.edge.stop()
            try:
                self.publisher.flush(10)
            except ProducerError as err:
                log.error("pool events lost at shutdown: %s", err)
            if self.health is not None:
                self.health.close()
        log.info("pool %s stopped", self.args.media_node)
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.workers < 1:
        log.critical("cannot start: --workers must be at least 1")
        return 2
    return Pool(args).run()
