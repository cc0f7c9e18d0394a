"""Calls a single pjsua2 worker can carry: SIPp call rates against one worker process.

    uv run python benchmarks/media_worker_calls.py [--rates 0.5,1,2,4] [--calls 12]
        [--kafka HOST:PORT]

Each call dials the speed-dial number of ``tests/integration/media_nodes/flows/ivr.yaml``
(answer, ~2 s spoken answer with RTP, the worker hangs up). SIPp offers up to 8
calls at once, so above the wheel's 4 call legs per endpoint the worker answers 486
and those calls count as failed: that is the per-worker ceiling a node multiplies by
its pool size. Reports successful/failed calls per rate and the worker's CPU seconds
per call and resident memory. Without ``--kafka`` events go to an unreachable
bootstrap and stay buffered in the producer (calls must not depend on Kafka).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from hotline_media_nodes.ivr.loader import load_flow
from hotline_media_nodes.prompts import install_prompts

ROOT = Path(__file__).resolve().parent.parent
FLOW = ROOT / "tests/integration/media_nodes/flows/ivr.yaml"
SCENARIO = ROOT / "tests/integration/media_nodes/scenarios/speed_dial_system_bye.xml"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rates", default="0.5,1,2,4")
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--kafka", default="127.0.0.1:1")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="media-bench-"))
    install_prompts(load_flow(FLOW), work / "prompts")
    env = {**os.environ, "HOTLINE_CALLER_TOKEN_KEY": "benchmark-token-key-0123456789"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "hotline_media_nodes.worker", "--flow", str(FLOW), "--allow",
         "127.0.0.1", "--kafka", args.kafka, "--prompt-cache", str(work / "prompts"),
         "--media-node", "mn-bench", "--heartbeat-seconds", "60"],
        stdout=subprocess.PIPE, stderr=(work / "worker.log").open("w"), text=True, env=env)
    assert worker.stdout is not None
    port = 0
    for line in worker.stdout:
        if line.startswith("ready sip="):
            port = int(line.strip().rsplit(":", 1)[1])
            break
    threading.Thread(target=lambda: [None for _ in worker.stdout or []], daemon=True).start()
    scenario = work / "speed_dial.xml"
    scenario.write_text(SCENARIO.read_text().replace("{{caller}}", "+4915100000000")
                        .replace("{{bye_timeout_ms}}", "20000"))
    print(f"worker pid {worker.pid} on udp {port}; {os.cpu_count()} CPUs; "
          f"RSS idle {rss_mib(worker.pid):.1f} MiB")
    print(f"{'calls/s':>8} {'ok':>4} {'failed':>6} {'cpu s/call':>10} {'RSS MiB':>8}")
    try:
        for rate in (float(r) for r in args.rates.split(",")):
            before = cpu_seconds(worker.pid)
            stats = work / f"rate-{rate}.csv"
            subprocess.run(["sipp", f"127.0.0.1:{port}", "-sf", str(scenario), "-s", "800101",
                            "-i", "127.0.0.1", "-r", str(rate), "-rp",
                            "1000", "-m", str(args.calls), "-l", "8", "-nostdin",
                            "-timeout", "120s", "-trace_stat", "-stf", str(stats)],
                           cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=300, check=False)
            header, *rows = stats.read_text().splitlines()
            last = dict(zip(header.split(";"), rows[-1].split(";"), strict=False))
            ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
            used = cpu_seconds(worker.pid) - before
            print(f"{rate:>8} {ok:>4} {failed:>6} {used / max(ok, 1):>10.3f} "
                  f"{rss_mib(worker.pid):>8.1f}")
    finally:
        worker.terminate()
        worker.wait(30)


if __name__ == "__main__":
    main()
