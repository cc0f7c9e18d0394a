"""The witness as a real HTTP service: one lease at a time, fencing tokens, no split brain."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

pytestmark = pytest.mark.integration


def post(url: str, path: str, body: object) -> requests.Response:
    return requests.post(url + path, json=body, timeout=5)


def takeover_until(url: str, holder: str, failed: str, alive: list[str],
                   done: Callable[[requests.Response], bool],
                   timeout: float = 10.0) -> requests.Response:
    """Heartbeat ``alive`` and ask for the takeover until ``done(response)``."""
    deadline = time.monotonic() + timeout
    while True:
        for site in alive:
            assert post(url, "/heartbeat", {"site": site}).ok
        answer = post(url, "/takeover", {"holder": holder, "failed_site": failed})
        if done(answer):
            return answer
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.1)  # the witness's verdict depends on time passing (heartbeat ages)


def test_leases_follow_what_the_witness_can_see(witness: str) -> None:
    # Nobody has heartbeated yet: the asker is not known to be alive.
    first = post(witness, "/takeover", {"holder": "site-a", "failed_site": "site-b"})
    assert first.status_code == 409 and "no recent heartbeat" in first.json()["reason"]

    # Both sites heartbeat: a cut link between them must not produce a takeover.
    cut = takeover_until(witness, "site-a", "site-b", ["site-a", "site-b"],
                         lambda r: "only the link" in r.json().get("reason", ""))
    assert cut.status_code == 409

    # site-b goes silent: site-a gets the lease once site-b's heartbeat is old.
    granted = takeover_until(witness, "site-a", "site-b", ["site-a"],
                             lambda r: r.status_code == 200)
    token = granted.json()["token"]
    assert token > 0, "the token is etcd's revision of the lease"
    held = requests.get(witness + "/leases", timeout=5).json()["site-b"]
    assert (held["holder"], held["token"]) == ("site-a", token)

    # No double takeover: site-b (if it were alive somewhere) cannot take site-a.
    reverse = post(witness, "/takeover", {"holder": "site-b", "failed_site": "site-a"})
    assert reverse.status_code == 409
    assert requests.get(witness + "/leases", timeout=5).json()["site-b"]["holder"] == "site-a"

    # Failback: a stale token releases nothing; the right one does.
    assert post(witness, "/release", {"failed_site": "site-b", "token": token - 1}).json() == {
        "released": False}
    assert post(witness, "/release", {"failed_site": "site-b", "token": token}).json() == {
        "released": True}
    again = takeover_until(witness, "site-a", "site-b", ["site-a"],
                           lambda r: r.status_code == 200)
    assert again.json()["token"] > token


def test_bad_requests_name_the_field(witness: str) -> None:
    answer = post(witness, "/takeover", {"holder": "site-a"})
    assert answer.status_code == 400 and "failed_site" in answer.text
    answer = requests.post(witness + "/heartbeat", data="not json", timeout=5)
    assert answer.status_code == 400 and "JSON" in answer.text
    answer = post(witness, "/takeover", {"holder": "site-a", "failed_site": "site-a"})
    assert answer.status_code == 400 and "itself" in answer.text
