"""The chart's hooks: the uninstall's finalizer decisions, and the test's SIP OPTIONS
and verdicts (pure; one round trip against a local UDP socket)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from hotline_operators.chart_test.__main__ import sip_options
from hotline_operators.chart_test.logic import (
    Options,
    deployments_ready,
    options_request,
    parse_response,
    site_ready,
    split_host_port,
)
from hotline_operators.uninstall.logic import (
    FINALIZER,
    finalizer_patch,
    leftovers,
    removed_line,
    stuck_line,
)

OPTS = Options("edge.ns.svc:5060", "10.1.2.3:40000", "abc@test", "z9hG4bKdeadbeef", "t1")


def test_only_the_operators_finalizer_is_removed() -> None:
    (item,) = leftovers("contactcentersites", [{"metadata": {
        "name": "site-a", "finalizers": ["other.example/keep", FINALIZER]}}])
    assert finalizer_patch(item) == {"metadata": {"finalizers": ["other.example/keep"]}}
    assert finalizer_patch(item, "42") == {"metadata": {"finalizers": ["other.example/keep"],
                                                        "resourceVersion": "42"}}
    (bare,) = leftovers("contactcenterqueues", [{"metadata": {"name": "q"}}])
    assert finalizer_patch(bare) is None
    line = removed_line(item, 60)
    assert "contactcentersites/site-a" in line and FINALIZER in line and "60s" in line
    assert "\n" not in line
    assert "other.example/keep" in stuck_line(item)


def test_the_options_request_is_well_formed() -> None:
    text = options_request(OPTS).decode()
    assert text.endswith("\r\n\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[0] == "OPTIONS sip:edge.ns.svc:5060 SIP/2.0"
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    assert headers["Via"] == "SIP/2.0/UDP 10.1.2.3:40000;branch=z9hG4bKdeadbeef;rport"
    assert headers["From"].endswith(";tag=t1") and headers["To"] == "<sip:edge.ns.svc:5060>"
    assert (headers["Call-ID"], headers["CSeq"]) == ("abc@test", "1 OPTIONS")
    assert (headers["Max-Forwards"], headers["Content-Length"]) == ("70", "0")


def test_responses_are_parsed_with_their_call_id() -> None:
    ok = parse_response(b"SIP/2.0 200 OK\r\nVia: x\r\nCall-ID: abc@test\r\n"
                        b"Content-Length: 0\r\n\r\n")
    assert (ok.code, ok.status_line, ok.call_id, ok.final) == (200, "SIP/2.0 200 OK",
                                                               "abc@test", True)
    trying = parse_response(b"SIP/2.0 100 Trying\r\ni: abc@test\r\n\r\n")
    assert (trying.final, trying.call_id) == (False, "abc@test")
    assert parse_response(b"SIP/2.0 403 Not an allowed trunk\r\n\r\n").final
    for junk in (b"HTTP/1.1 200 OK\r\n\r\n", b"", b"OPTIONS sip:x SIP/2.0\r\n\r\n"):
        with pytest.raises(ValueError):
            parse_response(junk)


def test_host_and_port() -> None:
    assert split_host_port("edge.ns.svc:5070") == ("edge.ns.svc", 5070)
    assert split_host_port("edge") == ("edge", 5060)
    assert split_host_port("[::1]:5060") == ("::1", 5060)


def test_the_verdicts_name_what_is_not_ready() -> None:
    assert site_ready(None) == (False, "not found")
    ok, text = site_ready({"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "PodsNotReady", "message": "m"}]}})
    assert not ok and "PodsNotReady: m" in text
    ready: dict[str, Any] = {"metadata": {"generation": 1}, "spec": {"replicas": 1}, "status": {
        "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1}}
    waiting = {**ready, "status": {**ready["status"], "readyReplicas": 0}}
    assert deployments_ready({"a": ready, "b": ready}) == (True, "2 ready: a, b")
    assert deployments_ready({"a": ready, "b": waiting}) == (False, "not ready: b 0/1")
    assert not deployments_ready({})[0]


def test_a_local_edge_answering_options_passes() -> None:
    edge = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    edge.bind(("127.0.0.1", 0))
    port = edge.getsockname()[1]

    def answer() -> None:
        data, peer = edge.recvfrom(65535)
        call_id = next(line.split(": ", 1)[1] for line in data.decode().split("\r\n")
                       if line.startswith("Call-ID: "))
        edge.sendto(f"SIP/2.0 100 Trying\r\nCall-ID: {call_id}\r\n\r\n".encode(), peer)
        edge.sendto(f"SIP/2.0 200 OK\r\nCall-ID: {call_id}\r\n\r\n".encode(), peer)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        ok, text = sip_options(f"127.0.0.1:{port}", time.monotonic() + 10)
    finally:
        thread.join(5)
        edge.close()
    assert ok, text
    assert text == f"SIP/2.0 200 OK from 127.0.0.1:{port}"
