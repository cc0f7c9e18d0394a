"""devstack's command line: install, up, check.

    devstack install [--profile two-site]   fetch and build everything, cached
    devstack up [--profile single]          start the stack, print where it is, run
                                            until Ctrl-C (or --for N seconds)
    devstack check                          health of the servers named in the env
    devstack images build                   build the container images (cached by content)
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

from devstack import artifacts, images, kubernetes
from devstack.platform import Platform
from devstack.pod_platform import PodPlatform
from devstack.process import ServerError
from devstack.settings import ENV_OVERRIDES, ExternalEndpoints
from devstack.stack import PROFILES, Stack, install

log = logging.getLogger("devstack")


def _install(args: argparse.Namespace) -> int:
    started = time.monotonic()
    artifacts.debian_packages()
    install(PROFILES[args.profile])
    print(f"devstack: {args.profile} profile installed in {time.monotonic() - started:.1f}s")
    return 0


def _up(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("got signal %d; stopping the stack", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    artifacts.debian_packages()
    stack = Stack()
    started = time.monotonic()
    try:
        stack.up(args.profile)
        stack.check()
    except ServerError as exc:
        print(f"devstack: the {args.profile} stack did not come up:\n{exc}", file=sys.stderr)
        stack.down()
        return 1
    env_file = stack.write_env_file()
    for command in args.init:
        # Platform set-up that needs the servers (e.g. topics from the event catalog);
        # it sees the stack's variables, like any client.
        print(f"devstack: running {command}", flush=True)
        done = subprocess.run(command, shell=True, env={**os.environ, **stack.env()},
                              check=False)
        if done.returncode != 0:
            print(f"devstack: init command failed (exit {done.returncode}): {command}; "
                  "stopping the stack", file=sys.stderr)
            stack.down()
            return 1
    platform: Platform | None = None
    if args.platform:
        kafka_a = ExternalEndpoints.from_environ(stack.env()).kafka_site_a
        assert kafka_a is not None, "every profile runs a site-a Kafka"
        if stack.node is not None and stack.kube is not None:
            # The node profile: the site is the Helm chart's pods, not local processes.
            binaries = kubernetes.install()
            platform = PodPlatform(stack.run_dir, kafka_a, kubeconfig=stack.kube.kubeconfig_path,
                                   kubectl=binaries.kubectl, helm=binaries.helm, node=stack.node,
                                   cassandra_dc_a=stack.cassandra["dc-a"].contact_point)
        else:
            platform = Platform(stack.run_dir, kafka_a)
        try:
            platform.up()
        except ServerError as exc:
            print(f"devstack: the platform did not come up:\n{exc}", file=sys.stderr)
            platform.down()
            stack.down()
            return 1
    print(f"devstack: {args.profile} stack healthy in {time.monotonic() - started:.1f}s")
    print(stack.describe())
    if platform is not None:
        print(platform.describe())
    print("\nClients find it through these variables (tests too: they then reuse it):")
    print(env_file.read_text().rstrip())
    print(f"\n  source {env_file}\n")
    sys.stdout.flush()
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            stop.wait(args.check_every)
            if stop.is_set():
                break
            health = {**stack.health(), **(platform.health() if platform else {})}
            problems = {name: p for name, p in health.items() if p}
            for problem in problems.values():
                log.error("health check failed: %s", problem)
            if problems and args.exit_on_failure:
                return 1
    finally:
        if platform is not None:
            platform.down()
        stack.down()
        print("devstack: stopped")
    return 0


def _check(_args: argparse.Namespace) -> int:
    stack = Stack(external=ExternalEndpoints.from_environ())
    if not stack.attach_external():
        print("devstack check: no server is named in the environment; set one of:\n"
              + "\n".join(f"  {k}: {v}" for k, v in ENV_OVERRIDES.items()), file=sys.stderr)
        return 2
    report = stack.health()
    for name, problem in report.items():
        status = "ok  " if problem is None else "FAIL"
        print(f"{status} {name}" + (f"\n{problem}" if problem else ""))
    return 0 if all(p is None for p in report.values()) else 1


def _images_build(_args: argparse.Namespace) -> int:
    started = time.monotonic()
    for image in images.build_all().values():
        state = "cached" if image.cached else "built"
        print(f"{image.ref}  {image.size / 2**20:.0f} MiB  {state}  {image.archive}")
    print(f"devstack: images ready in {time.monotonic() - started:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="fetch and build the servers (cached)")
    p_install.add_argument("--profile", choices=sorted(PROFILES), default="two-site")
    p_install.set_defaults(func=_install)
    p_up = sub.add_parser("up", help="start a profile and keep it running")
    p_up.add_argument("--profile", choices=sorted(PROFILES), default="single")
    p_up.add_argument("--for", dest="seconds", type=float, default=None,
                      help="stop after this many seconds (default: until Ctrl-C)")
    p_up.add_argument("--check-every", type=float, default=10.0,
                      help="seconds between health checks while running")
    p_up.add_argument("--exit-on-failure", action="store_true",
                      help="stop everything when a health check fails")
    p_up.add_argument("--init", action="append", default=[], metavar="COMMAND",
                      help="shell command to run once the stack is healthy, with its "
                           "HOTLINE_* variables set (repeatable); failure stops the stack")
    p_up.add_argument("--platform", action="store_true",
                      help="also start Hotline on it: Kamailio edge, media-node pool, stream "
                           "worker, SIPp callers and agents (see devstack.platform)")
    p_up.set_defaults(func=_up)
    p_check = sub.add_parser("check", help="health-check the servers named in the environment")
    p_check.set_defaults(func=_check)
    p_images = sub.add_parser("images", help="Hotline's container images (images/)")
    images_sub = p_images.add_subparsers(dest="images_command", required=True)
    p_images_build = images_sub.add_parser(
        "build", help="build every image into an OCI archive (cached by content)")
    p_images_build.set_defaults(func=_images_build)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except artifacts.InstallError as exc:
        print(f"devstack: install failed:\n{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
