"""Capacity of a media node behind its Kamailio edge: concurrent calls, setup rate, CPU.

    uv run python benchmarks/media_capacity.py [--workers 25] [--levels 25,50,75,100]
        [--rates 2,5,10,20] [--kafka HOST:PORT] [--bridged 50,100]

Starts ``python -m hotline_media_nodes.pool`` (N pjsua2 workers + its own Kamailio)
on the demo flow, then drives SIPp through the edge:

1. **Concurrent calls held**: for each level C, SIPp places C calls (10/s) that stream
   speech (SIPp's PCMA capture, RTP) while hearing the IVR and then the queue's music,
   and hold for about 30 s (RTP checked on the loopback: 50 packets/s node → caller,
   33 packets/s caller → node per call). At the plateau it samples the node's /metrics
   (active calls) and the CPU and memory of the workers, Kamailio and SIPp over 10 s.
   One held call is one call leg; a bridged caller-agent call is two, so bridged
   capacity is half of it.
1b. **Concurrent bridged calls** (``--bridged 50,100 --kafka $HOTLINE_KAFKA_SITE_A``):
   the same callers wait out the IVR into the queue; a stand-in router
   (``media_bridging_router.py``) answers each ``CallQueued`` with a
   ``RoutingDecision``, the node rings the agent's phone (one SIPp UAS echoing RTP)
   and bridges; sampled once the bridged count plateaus.
2. **Call setup rate**: short calls (800101, a ~4 s spoken answer, then the node hangs
   up) at each rate for 10 s; prints answered/failed, so the rate at which calls start
   failing is visible.

Without ``--kafka`` events go to an unreachable bootstrap and wait in each worker's
bounded buffer (calls must not depend on Kafka). The machine is shared: the "machine%" column is
the whole machine's CPU use during the sample (2 cores = 200%), everything included.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from media_bridging_router import Router

from hotline_events.catalog import default_catalog
from hotline_events.topics import ensure_topics
from hotline_media_nodes.ivr.loader import load_flow
from hotline_media_nodes.prompts import install_prompts

ROOT = Path(__file__).resolve().parent.parent
FLOW = ROOT / "media-nodes/flows/demo-bank.yaml"
HOLD = ROOT / "benchmarks/scenarios/caller_rtp_holds.xml"
SHORT = ROOT / "tests/integration/media_nodes/scenarios/speed_dial_system_bye.xml"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    for child in children(pid):
        out += [child, *descendants(child)]
    return out


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    return {re.sub(r"\{.*\}", "", line.split(" ")[0]): float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line and not line.startswith("#")}


def sipp_totals(stats: Path) -> dict[str, int]:
    header, *rows = stats.read_text().splitlines()
    last = dict(zip(header.split(";"), rows[-1].split(";"), strict=False))
    return {"ok": int(last["SuccessfulCall(C)"]), "failed": int(last["FailedCall(C)"])}


SPEECH = Path("/usr/share/sip-tester/g711a.pcap")  # Debian sip-tester: 7.05 s of PCMA
SPEECH_MS = 7000


def speech_blocks(hold_seconds: int) -> str:
    """SIPp steps replaying the speech capture back to back for ``hold_seconds``."""
    block = (f'  <nop><action><exec play_pcap_audio="{SPEECH}"/></action></nop>\n'
             f'  <pause milliseconds="{SPEECH_MS}"/>\n')
    return block * max(1, -(-hold_seconds * 1000 // SPEECH_MS))


def render(template: Path, out: Path, **values: str) -> Path:
    text = template.read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    out.write_text(text)
    return out


def bridged_level(args: argparse.Namespace, work: Path, edge: int, health: int,
                  router: Router, level: int) -> None:
    """``level`` callers through the edge, each bridged to an agent, held ~25 s."""
    hold_s = 60
    scenario = render(HOLD, work / f"bridged-{level}.xml", media=speech_blocks(hold_s))
    stats = work / f"bridged-{level}.csv"
    before = len(router.answered)
    sipp = subprocess.Popen(
        ["sipp", f"127.0.0.1:{edge}", "-sf", str(scenario), "-s", "800100", "-i", "127.0.0.1",
         "-p", str(free_port(socket.SOCK_DGRAM)), "-r", "10", "-l", str(level), "-m",
         str(level), "-nostdin", "-timeout", f"{hold_s + 120}s", "-trace_stat", "-stf",
         str(stats)], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 45
    while router.bridged_now < level and time.monotonic() < deadline:
        time.sleep(0.5)  # polling the bridged count until the plateau (or 45 s)
    workers = [p for p in descendants(os.getpid())
               if "hotline_media_nodes.worker" in cmdline(p)]
    c0 = {p: cpu_seconds([p]) for p in workers}
    m0, t0 = machine_busy(), time.monotonic()
    time.sleep(10)  # the CPU sample window
    bridged = router.bridged_now
    alive = [p for p in workers if Path(f"/proc/{p}").exists()]
    w_cpu = 100 * sum(cpu_seconds([p]) - c0[p] for p in alive) / (time.monotonic() - t0)
    m1 = machine_busy()
    machine = 100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * (os.cpu_count() or 1)
    rss = [rss_mib(p) for p in alive]
    sipp.wait(hold_s + 180)
    totals = sipp_totals(stats)
    print(f"{level:>7} {bridged:>7} {2 * bridged:>5} {totals['failed']:>6} {w_cpu:>11.0f}% "
          f"{w_cpu / max(bridged, 1):>11.2f}% {machine:>7.0f}% "
          f"{sum(rss) / max(len(rss), 1):>8.1f}Mi   ({len(router.answered) - before} answered)")
    deadline = time.monotonic() + 60
    while metrics(health)["hotline_media_active_calls"] > 0 and time.monotonic() < deadline:
        time.sleep(0.5)  # polling until the node is idle again


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=25)
    parser.add_argument("--levels", default="25,50,75,100")
    parser.add_argument("--rates", default="2,5,10,20")
    parser.add_argument("--hold-seconds", type=int, default=30)
    parser.add_argument("--kafka", default="127.0.0.1:1")
    parser.add_argument("--bridged", default="",
                        help="levels of concurrent bridged calls, e.g. 50,100 (needs --kafka: "
                             "a real one, e.g. $HOTLINE_KAFKA_SITE_A of a running devstack)")
    args = parser.parse_args()
    if args.bridged and args.kafka == "127.0.0.1:1":
        parser.error("--bridged needs --kafka: routing decisions travel through Kafka")
    work = Path(tempfile.mkdtemp(prefix="media-capacity-"))
    install_prompts(load_flow(FLOW))
    edge, health = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    env = {**os.environ, "HOTLINE_CALLER_TOKEN_KEY": "benchmark-token-key-0123456789"}
    extra: list[str] = []
    phone: subprocess.Popen[bytes] | None = None
    router: Router | None = None
    if args.bridged:
        prefix = f"bench{uuid.uuid4().hex[:6]}."
        catalog = default_catalog().prefixed(prefix)
        ensure_topics(args.kafka, catalog)
        phone_port = free_port(socket.SOCK_DGRAM)
        # The agents' phones: one SIPp UAS answers every agent leg and echoes its RTP.
        phone = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(phone_port),
                                  "-mp", str(free_port(socket.SOCK_DGRAM)), "-rtp_echo",
                                  "-nostdin"], cwd=work, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        extra = ["--topic-prefix", prefix,
                 f"--worker-arg=--agent-uri-template=sip:{{agent_id}}@127.0.0.1:{phone_port}",
                 "--worker-arg=--ring-seconds=30"]
        router = Router(args.kafka, catalog)
        router.start()
    started = time.monotonic()
    pool = subprocess.Popen(
        [sys.executable, "-m", "hotline_media_nodes.pool", "--workers", str(args.workers),
         "--flow", str(FLOW), "--allow", "127.0.0.1/32", "--kafka", args.kafka,
         "--media-node", "mn-bench", "--edge-listen", f"127.0.0.1:{edge}",
         "--health-port", str(health), "--workdir", str(work / "pool"),
         "--heartbeat-seconds", "10", "--drain-seconds", "5", *extra],
        stdout=subprocess.DEVNULL, stderr=(work / "pool.log").open("w"), env=env)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                if metrics(health)["hotline_media_workers"] == args.workers:
                    break
            except OSError:
                pass
            if pool.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"pool not ready; see {work}/pool.log")
            time.sleep(0.5)  # polling the pool's readiness
        procs = descendants(pool.pid)
        workers = [p for p in procs if "hotline_media_nodes.worker" in cmdline(p)]
        kamailio = [p for p in procs if "kamailio" in cmdline(p)]
        idle_rss = sum(rss_mib(p) for p in workers) / len(workers)
        print(f"pool of {args.workers} workers ready in {time.monotonic() - started:.0f} s; "
              f"{os.cpu_count()} CPUs; worker RSS idle {idle_rss:.1f} MiB; "
              f"load average {os.getloadavg()[0]:.2f}; work dir {work}")
        c0, t0 = cpu_seconds(workers + kamailio), time.monotonic()
        time.sleep(10)  # the idle CPU sample window
        idle_cpu = 100 * (cpu_seconds(workers + kamailio) - c0) / (time.monotonic() - t0)
        print(f"idle (no call): workers + Kamailio use {idle_cpu:.0f}% CPU "
              f"({idle_cpu / args.workers:.2f}% per worker: the 20 ms event loop)")
        print("\n1) concurrent calls held (RTP both ways, IVR then queue music)")
        print(f"{'offered':>7} {'held':>5} {'failed':>6} {'workers CPU%':>12} "
              f"{'CPU%/call':>9} {'kamailio%':>9} {'sipp%':>6} {'machine%':>8} "
              f"{'RSS/worker':>10} {'RSS/call':>8}")
        for level in (int(v) for v in args.levels.split(",") if v):
            scenario = render(HOLD, work / f"hold-{level}.xml",
                              media=speech_blocks(args.hold_seconds))
            stats = work / f"hold-{level}.csv"
            sipp = subprocess.Popen(
                ["sipp", f"127.0.0.1:{edge}", "-sf", str(scenario), "-s", "800100",
                 "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)),
                 "-r", "10", "-l", str(level), "-m", str(level), "-nostdin",
                 "-timeout", f"{args.hold_seconds + 120}s", "-trace_stat", "-stf", str(stats),
                 "-fd", "1"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ramp = level / 10 + 3
            time.sleep(ramp)  # SIPp places calls at 10/s: wait for the plateau, then sample
            held = metrics(health)["hotline_media_active_calls"]
            pids = workers + kamailio + [sipp.pid]
            c0 = {p: cpu_seconds([p]) for p in pids}
            m0 = machine_busy()
            window = min(10.0, max(2.0, args.hold_seconds - ramp - 2))
            time.sleep(window)  # the CPU sample window
            used = {p: cpu_seconds([p]) - c0[p] for p in pids}
            m1 = machine_busy()
            held = min(held, metrics(health)["hotline_media_active_calls"])
            rss = [rss_mib(p) for p in workers]
            sipp.wait(args.hold_seconds + 180)
            totals = sipp_totals(stats)
            w_cpu = 100 * sum(used[p] for p in workers) / window
            k_cpu = 100 * sum(used[p] for p in kamailio) / window
            s_cpu = 100 * used[sipp.pid] / window
            machine = 100 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * (os.cpu_count() or 1)
            print(f"{level:>7} {held:>5.0f} {totals['failed']:>6} {w_cpu:>11.0f}% "
                  f"{w_cpu / max(held, 1):>8.2f}% {k_cpu:>8.1f}% {s_cpu:>5.0f}% "
                  f"{machine:>7.0f}% {sum(rss) / len(rss):>8.1f}Mi "
                  f"{(sum(rss) - idle_rss * len(rss)) / max(held, 1):>6.2f}Mi")
            deadline = time.monotonic() + 60
            while metrics(health)["hotline_media_active_calls"] > 0 \
                    and time.monotonic() < deadline:
                time.sleep(0.5)  # polling until the node is idle again
        if router is not None:
            print("\n1b) concurrent bridged calls (caller ↔ agent, RTP both ways on both legs)")
            print(f"{'callers':>7} {'bridged':>7} {'legs':>5} {'failed':>6} {'workers CPU%':>12} "
                  f"{'CPU%/bridged':>12} {'machine%':>8} {'RSS/worker':>10}")
            for level in (int(v) for v in args.bridged.split(",") if v):
                bridged_level(args, work, edge, health, router, level)
        print("\n2) call setup rate (short calls: answer, ~4 s answer prompt, node hangs up)")
        print(f"{'calls/s':>7} {'offered':>7} {'ok':>5} {'failed':>6} {'workers CPU%':>12} "
              f"{'worker deaths':>13}")
        short = render(SHORT, work / "short.xml", caller="+4930777000001",
                       bye_timeout_ms="30000")
        for rate in (float(v) for v in args.rates.split(",") if v):
            count = int(rate * 10)
            stats = work / f"rate-{rate:g}.csv"
            workers = [p for p in descendants(pool.pid)
                       if "hotline_media_nodes.worker" in cmdline(p)]
            c0w = {p: cpu_seconds([p]) for p in workers}
            deaths = metrics(health)["hotline_media_worker_restarts_total"]
            t0 = time.monotonic()
            try:
                subprocess.run(
                    ["sipp", f"127.0.0.1:{edge}", "-sf", str(short), "-s", "800101",
                     "-i", "127.0.0.1", "-p", str(free_port(socket.SOCK_DGRAM)),
                     "-r", f"{rate:g}", "-m", str(count), "-l", str(4 * args.workers),
                     "-nostdin", "-timeout", "120s", "-trace_stat", "-fd", "5",
                     "-stf", str(stats)],
                    cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    timeout=180, check=False)
            except subprocess.TimeoutExpired:
                print(f"  (SIPp still waiting after 180 s at {rate:g} calls/s: some calls "
                      "never ended; counted from its last statistics)")
            totals = sipp_totals(stats)
            # Only workers alive throughout: a crashed one's CPU time is gone with it.
            alive = [p for p in workers if Path(f"/proc/{p}").exists()]
            w_cpu = 100 * sum(cpu_seconds([p]) - c0w[p] for p in alive) / (time.monotonic() - t0)
            deaths = metrics(health)["hotline_media_worker_restarts_total"] - deaths
            print(f"{rate:>7g} {count:>7} {totals['ok']:>5} {totals['failed']:>6} "
                  f"{w_cpu:>11.0f}% {deaths:>13.0f}")
        final = metrics(health)
        print(f"\nnode: {final['hotline_media_calls_lost_total']:.0f} calls lost, "
              f"{final['hotline_media_worker_restarts_total']:.0f} worker restarts, "
              f"{final['hotline_media_events_buffered']:.0f} events buffered "
              f"({'Kafka ' + args.kafka if args.kafka != '127.0.0.1:1' else 'no Kafka'})")
        print(json.dumps({"workers": args.workers, "work_dir": str(work)}))
    finally:
        if router is not None:
            router.stop.set()
        if phone is not None:
            phone.terminate()
        pool.send_signal(signal.SIGTERM)
        try:
            pool.wait(60)
        except subprocess.TimeoutExpired:
            pool.kill()


if __name__ == "__main__":
    main()
