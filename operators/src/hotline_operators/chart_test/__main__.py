"""``python -m hotline_operators.chart_test --namespace NS --site NAME
[--edge HOST:PORT | --edge-service NAME --edge-port PORT] [--timeout 60]``: exits 0 when
every check passed, 1 naming those that failed (no edge given: the SIP check is
skipped)."""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client

from hotline_operators.chart_test.logic import (
    Options,
    deployments_ready,
    options_request,
    parse_response,
    site_ready,
    split_host_port,
)
from hotline_operators.incluster import api_client
from hotline_operators.site.adapters import SiteStatusStore

Check = Callable[[], tuple[bool, str]]


def sip_options(edge: str, deadline: float) -> tuple[bool, str]:
    """Send OPTIONS until a final response with our Call-ID arrives (retransmitting
    like a SIP client: 0.5 s doubling to 4 s) or the deadline passes."""
    host, port = split_host_port(edge)
    last = "no answer"
    call_id = f"{secrets.token_hex(12)}@hotline-chart-test"
    branch = f"z9hG4bK{secrets.token_hex(8)}"
    tag = secrets.token_hex(6)
    wait = 0.5
    while time.monotonic() < deadline:
        try:
            family, kind, proto, _, address = socket.getaddrinfo(
                host, port, type=socket.SOCK_DGRAM)[0]
        except OSError as exc:  # the Service's name not resolvable yet
            last = f"{host}: {exc}"
            time.sleep(1)
            continue
        with socket.socket(family, kind, proto) as sock:
            sock.connect(address)
            peer_host, peer_port = sock.getpeername()[:2]
            local_host, local_port = sock.getsockname()[:2]
            local = f"[{local_host}]:{local_port}" if ":" in local_host else \
                f"{local_host}:{local_port}"
            request = options_request(Options(edge, local, call_id, branch, tag))
            try:
                sock.send(request)
                sock.settimeout(max(0.05, min(wait, deadline - time.monotonic())))
                while True:
                    response = parse_response(sock.recv(65535))
                    if response.call_id == call_id and response.final:
                        return True, f"{response.status_line} from {peer_host}:{peer_port}"
                    last = f"provisional {response.status_line}"
            except TimeoutError:
                wait = min(wait * 2, 4.0)
            except ConnectionRefusedError:  # ICMP port unreachable: nothing listens yet
                last = f"{peer_host}:{peer_port} refused (ICMP port unreachable)"
                time.sleep(1)
            except ValueError as exc:
                last = str(exc)
    return False, last


def until(check: Check, deadline: float) -> tuple[bool, str]:
    ok, text = check()
    while not ok and time.monotonic() < deadline:
        time.sleep(2)
        ok, text = check()
    return ok, text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotline_operators.chart_test",
                                     description="helm test: the edge answers SIP, the "
                                                 "site and its Deployments are ready")
    parser.add_argument("--namespace", default=os.environ.get("POD_NAMESPACE"))
    parser.add_argument("--site", required=True, help="the ContactCenterSite's name")
    parser.add_argument("--edge", help="host:port of the edge's SIP (UDP)")
    parser.add_argument("--edge-service",
                        help="instead of --edge: the edge's Service, reached on its "
                             "ClusterIP (needs no cluster DNS)")
    parser.add_argument("--edge-port", type=int, default=5060,
                        help="with --edge-service: the Service's SIP port")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per check")
    args = parser.parse_args(argv)
    if not args.namespace:
        parser.error("--namespace (or POD_NAMESPACE) is required")
    if args.edge and args.edge_service:
        parser.error("give --edge or --edge-service, not both")
    api = api_client()
    store = SiteStatusStore(api)
    apps = client.AppsV1Api(api)

    def site() -> tuple[bool, str]:
        return site_ready(store.site(args.namespace, args.site))

    def deployments() -> tuple[bool, str]:
        listed = apps.list_namespaced_deployment(
            args.namespace, label_selector="app.kubernetes.io/part-of=hotline")
        found: dict[str, Any] = {}
        for item in listed.items:
            body: dict[str, Any] = api.sanitize_for_serialization(  # type: ignore[no-untyped-call]
                item)
            found[str(body["metadata"]["name"])] = body
        return deployments_ready(found)

    def edge_address() -> str:
        if args.edge:
            return str(args.edge)
        service = client.CoreV1Api(api).read_namespaced_service(args.edge_service,
                                                                args.namespace)
        ip = service.spec.cluster_ip if service.spec is not None else None
        host = ip if ip and ip != "None" else f"{args.edge_service}.{args.namespace}.svc"
        return f"[{host}]:{args.edge_port}" if ":" in host else f"{host}:{args.edge_port}"

    checks: list[tuple[str, Callable[[float], tuple[bool, str]]]] = []
    if args.edge or args.edge_service:
        checks.append((f"sip OPTIONS to {args.edge or args.edge_service}",
                       lambda d: sip_options(edge_address(), d)))
    else:
        print("SKIP sip OPTIONS: no --edge (the chart's edge is disabled)", flush=True)
    checks += [
        (f"site {args.site} Ready", lambda d: until(site, d)),
        ("deployments (app.kubernetes.io/part-of=hotline)", lambda d: until(deployments, d)),
    ]
    failed = []
    for name, run in checks:
        try:
            ok, text = run(time.monotonic() + args.timeout)
        except client.ApiException as exc:
            ok, text = False, f"API server answered {exc.status} {exc.reason}"
        print(f"{'PASS' if ok else 'FAIL'} {name}: {text}", flush=True)
        if not ok:
            failed.append(name)
    if failed:
        print(f"FAILED: {'; '.join(failed)}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
