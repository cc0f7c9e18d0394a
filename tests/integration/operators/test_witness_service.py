"""The witness as a real HTTP service: one lease at a time, fencing tokens, no split brain;
only its sites, each signing with its own key, may heartbeat, take over or release."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from helpers.witness import post
from hotline_operators.witness.signing import KEYS_DIR_ENV, sign

pytestmark = pytest.mark.integration


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
    key = (Path(os.environ[KEYS_DIR_ENV]) / "site-a").read_bytes().strip()
    answer = requests.post(witness + "/heartbeat", data="not json", timeout=5,
                           headers=sign("site-a", key, "POST", "/heartbeat", b"not json",
                                        time.time()))
    assert answer.status_code == 400 and "JSON" in answer.text
    answer = post(witness, "/takeover", {"holder": "site-a", "failed_site": "site-a"})
    assert answer.status_code == 400 and "itself" in answer.text


def test_only_a_site_signing_for_itself_is_heard(witness: str) -> None:
    body = {"holder": "site-c", "failed_site": "site-z"}
    data = json.dumps(body).encode()
    key_c = (Path(os.environ[KEYS_DIR_ENV]) / "site-c").read_bytes().strip()

    def raw(headers: dict[str, str], payload: bytes = data) -> requests.Response:
        return requests.post(witness + "/takeover", data=payload, timeout=5,
                             headers={"Content-Type": "application/json", **headers})

    # Anyone who reaches the port: unsigned, a wrong key, an old signature, a changed body.
    unsigned = raw({})
    assert unsigned.status_code == 401 and "unsigned" in unsigned.json()["reason"]
    wrong = raw(sign("site-c", b"not-site-c-key-0123456789", "POST", "/takeover", data,
                     time.time()))
    assert wrong.status_code == 401 and "does not verify" in wrong.json()["reason"]
    old = raw(sign("site-c", key_c, "POST", "/takeover", data, time.time() - 120))
    assert old.status_code == 401 and "away from the witness's clock" in old.json()["reason"]
    changed = raw(sign("site-c", key_c, "POST", "/takeover", data, time.time()),
                  json.dumps({"holder": "site-c", "failed_site": "site-a"}).encode())
    assert changed.status_code == 401
    stranger = raw({"X-Hotline-Site": "site-q", "X-Hotline-Time": str(time.time()),
                    "X-Hotline-Signature": "00"})
    assert stranger.status_code == 401 and "no key" in stranger.json()["reason"]

    # A known site speaking for another: keeping it alive, or taking over in its name.
    assert post(witness, "/heartbeat", {"site": "site-z"}, site="site-c").status_code == 403
    assert post(witness, "/takeover", body, site="site-z").status_code == 403

    # Only the holder releases its lease.
    granted = takeover_until(witness, "site-c", "site-z", ["site-c"],
                             lambda r: r.status_code == 200)
    token = granted.json()["token"]
    release = {"failed_site": "site-z", "token": token}
    assert post(witness, "/release", release, site="site-z").status_code == 403
    assert requests.get(witness + "/leases", timeout=5).json()["site-z"]["token"] == token
    # As the runbook does it by hand: the signed client, as the holder.
    cli = [sys.executable, "-m", "hotline_operators.witness.client", "--url", witness,
           "--site", "site-c", "--key-file", str(Path(os.environ[KEYS_DIR_ENV]) / "site-c")]
    done = subprocess.run([*cli, "release", "site-z", str(token)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and json.loads(done.stdout) == {"released": True}, done
    assert "site-z" not in requests.get(witness + "/leases", timeout=5).json()
