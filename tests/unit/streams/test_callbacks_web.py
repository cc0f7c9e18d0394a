"""The scheduler's HTTP side: the preview answer route, its errors, and health."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from hotline_streams.callbacks.web import Health, serve

Seen = list[tuple[str, str, Any]]


@pytest.fixture()
def api() -> Iterator[tuple[str, Seen]]:
    seen: Seen = []

    def preview(tenant: str, callback_id: str, body: Any) -> tuple[int, dict[str, Any]]:
        if callback_id == "broken":
            raise RuntimeError("Cassandra unreachable")
        seen.append((tenant, callback_id, body))
        return 202, {"accepted": body.get("decision")}

    server = serve("127.0.0.1", 0, Health(), preview)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()


def post(url: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=raw, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_a_preview_answer_reaches_the_scheduler(api: tuple[str, Seen]) -> None:
    base, seen = api
    status, body = post(f"{base}/tenants/acme/callbacks/cb-1/preview",
                        b'{"agent_id": "a-1", "decision": "accepted"}')
    assert (status, body) == (202, {"accepted": "accepted"})
    assert seen == [("acme", "cb-1", {"agent_id": "a-1", "decision": "accepted"})]


def test_bad_requests_are_refused_with_the_reason(api: tuple[str, Seen]) -> None:
    base, seen = api
    status, body = post(f"{base}/tenants/acme/callbacks/cb-1/preview", b"{not json")
    assert status == 400 and body["field"] == "body"
    assert post(f"{base}/tenants/acme/callbacks/cb-1/other", b"{}")[0] == 404
    status, body = post(f"{base}/tenants/acme/callbacks/broken/preview", b"{}")
    assert status == 503 and "Cassandra unreachable" in body["error"]  # the desktop retries
    assert seen == []
