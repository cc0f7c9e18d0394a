"""A witness that cannot forget: its leases and tokens live in etcd.

A real witness process on a real etcd of the test's own (so stopping it disturbs no
other test): killed with SIGKILL and restarted, or with etcd stopped and started on
the same data, the lease is still held by the same site with the same token, a
retried takeover gets that token, and the next grant gets a larger one. With etcd
down the witness says so (503) instead of deciding, and answers again once it is back.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack import witness_store
from devstack.network import PortAllocator
from devstack.process import wait_for
from devstack.witness_store import WitnessStore
from helpers.witness import PEER_TIMEOUT_S, WitnessProcess, post
from hotline_operators.failover.adapters import WitnessClient
from hotline_operators.failover.models import WitnessAnswer
from hotline_operators.witness.signing import KEYS_DIR_ENV

pytestmark = pytest.mark.integration

A, B = "site-a", "site-b"


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[WitnessStore]:
    store = witness_store.start(tmp_path, PortAllocator())
    try:
        store.wait_ready()
        yield store
    finally:
        for process in store.processes():
            process.stop()


@pytest.fixture
def witness(etcd: WitnessStore, tmp_path: Path) -> Iterator[WitnessProcess]:
    process = WitnessProcess(etcd.url, tmp_path / "witness.log")
    process.start()
    env = pytest.MonkeyPatch()
    env.setenv(KEYS_DIR_ENV, str(process.keys_dir))  # what ``post`` signs with
    try:
        yield process
    finally:
        env.undo()
        process.stop()


def leases(url: str) -> dict[str, Any]:
    answer = requests.get(url + "/leases", timeout=5)
    assert answer.ok, answer.text
    found: dict[str, Any] = answer.json()
    return found


def take_over(url: str, holder: str = A, failed: str = B) -> int:
    """Heartbeat ``holder`` until the witness grants it ``failed`` (whose heartbeat
    expires in etcd within the peer timeout), and return the token."""
    def granted() -> int | None:
        assert post(url, "/heartbeat", {"site": holder}).ok
        answer = post(url, "/takeover", {"holder": holder, "failed_site": failed})
        if answer.status_code == 200:
            return int(answer.json()["token"])
        assert answer.status_code == 409, answer.text
        return None

    return wait_for(granted, f"{holder} granted {failed}", timeout=PEER_TIMEOUT_S * 5)


def release(url: str, token: int, failed: str = B) -> None:
    assert post(url, "/release", {"failed_site": failed, "token": token}).json() == {
        "released": True}


def still_held(url: str, token: int) -> None:
    """The lease on site-b is site-a's with ``token``, and a retry gets the same token
    at once (no learning window), without a heartbeat."""
    assert leases(url)[B] | {"granted_at": 0} == {
        "holder": A, "failed_site": B, "token": token, "granted_at": 0}
    again = post(url, "/takeover", {"holder": A, "failed_site": B})
    assert again.status_code == 200 and again.json()["token"] == token, again.text
    other = post(url, "/takeover", {"holder": B, "failed_site": A})
    assert other.status_code == 409 and "taken over" in other.json()["reason"]


def healthy(url: str) -> bool | None:
    try:
        return requests.get(url + "/healthz", timeout=2).ok or None
    except requests.RequestException:
        return None


def test_tokens_strictly_increase(witness: WitnessProcess) -> None:
    post(witness.url, "/heartbeat", {"site": B})  # site-b was alive once, then fell silent
    tokens = []
    for _ in range(3):
        tokens.append(take_over(witness.url))
        release(witness.url, tokens[-1])
    assert tokens == sorted(set(tokens)), tokens


def test_a_restarted_witness_or_etcd_changes_nothing(witness: WitnessProcess,
                                                      etcd: WitnessStore) -> None:
    first = take_over(witness.url)

    witness.kill()
    witness.start()
    still_held(witness.url, first)

    etcd.stop()
    etcd.restart()
    wait_for(lambda: healthy(witness.url), "the witness healthy again after etcd's restart",
             timeout=30)
    still_held(witness.url, first)

    release(witness.url, first)
    second = take_over(witness.url)
    assert second > first

    # Both at once: the witness crashes while etcd restarts.
    witness.kill()
    etcd.stop()
    etcd.restart()
    witness.start()
    still_held(witness.url, second)
    release(witness.url, second)
    assert take_over(witness.url) > second


def test_with_etcd_down_the_witness_says_so_and_decides_nothing(
        witness: WitnessProcess, etcd: WitnessStore) -> None:
    token = take_over(witness.url)
    client = WitnessClient(witness.url, A, witness.keys[A])

    etcd.stop()
    health = requests.get(witness.url + "/healthz", timeout=5)
    assert health.status_code == 503 and "etcd is unreachable" in health.json()["reason"]
    takeover = post(witness.url, "/takeover", {"holder": A, "failed_site": B})
    assert takeover.status_code == 503 and "etcd" in takeover.json()["reason"]
    assert post(witness.url, "/heartbeat", {"site": A}).status_code == 503
    assert post(witness.url, "/release", {"failed_site": B, "token": token}).status_code == 503
    # The operator's client: no answer, so no failover and a retry at the next heartbeat.
    answer, granted, reason = client.request_takeover(A, B)
    assert (answer, granted) == (WitnessAnswer.UNREACHABLE, 0) and "503" in reason
    assert client.heartbeat(A) is False
    assert client.release(B, token) is False

    etcd.restart()
    wait_for(lambda: healthy(witness.url), "the witness healthy again after etcd's restart",
             timeout=30)
    still_held(witness.url, token)
    assert client.request_takeover(A, B) == (WitnessAnswer.GRANTED, token, "granted")
    assert client.release(B, token) is True
    assert leases(witness.url) == {}
