"""Warm start time of each devstack profile, and each server's memory once idle.

    uv run python benchmarks/stack_startup.py [--idle 30] [--profiles single two-site]

Prints one table per profile: seconds from `up` to every health check passing, and
each server process's resident memory (VmRSS) after the stack has idled. Run it on
a warm cache (after `./hotline test` or `devstack install`); cold install time is
what `devstack install` prints on an empty cache.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from devstack.settings import ExternalEndpoints
from devstack.stack import PROFILES, Stack


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(profile: str, idle: float) -> None:
    stack = Stack(external=ExternalEndpoints.from_environ({}))
    try:
        started = time.monotonic()
        stack.up(profile)
        stack.check()
        elapsed = time.monotonic() - started
        time.sleep(idle)  # let start-up work (JIT, compactions, MM2 first syncs) settle
        stack.check()
        print(f"\nprofile {profile}: healthy {elapsed:.1f} s after start")
        print(f"  {'server':<26} {'RSS after idle':>15}")
        total = 0.0
        for server in stack.servers():
            for proc in server.processes():
                assert proc.pid is not None
                rss = rss_mib(proc.pid)
                total += rss
                print(f"  {proc.name:<26} {rss:>11.0f} MiB")
        print(f"  {'total':<26} {total:>11.0f} MiB")
    finally:
        stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle", type=float, default=30.0,
                        help="seconds to idle before reading memory")
    parser.add_argument("--profiles", nargs="+", default=sorted(PROFILES),
                        choices=sorted(PROFILES))
    args = parser.parse_args()
    for profile in args.profiles:
        measure(profile, args.idle)


if __name__ == "__main__":
    main()
