"""The witness's transactions and their readings, on a stand-in for etcd's semantics."""

from __future__ import annotations

import json

import pytest

from hotline_operators.witness.logic import (
    Compare,
    Delete,
    Get,
    Grant,
    Keys,
    Outcome,
    Put,
    Refusal,
    Stored,
    Txn,
    heartbeat_ttl,
    release_txn,
    released,
    takeover_answer,
    takeover_txn,
)
from hotline_operators.witness.store import Endpoint, parse_endpoints

KEYS = Keys("/test/witness")
A, B = "site-a", "site-b"


class FakeEtcd:
    """etcd's transaction semantics as far as the witness uses them: a missing key has
    version 0 and mod_revision 0; a transaction that writes gets the next revision;
    a Get sees the earlier Puts of its branch."""

    def __init__(self) -> None:
        self.revision = 1
        self.kv: dict[str, tuple[bytes, int, int]] = {}  # value, mod_revision, version

    def heard(self, *sites: str) -> None:
        for site in sites:
            self.run(Txn((), (Put(KEYS.alive(site), "{}"),), ()))

    def silent(self, site: str) -> None:
        """The site's heartbeat lease expired."""
        self.run(Txn((), (Delete(KEYS.alive(site)),), ()))

    def _holds(self, c: Compare) -> bool:
        _value, mod, version = self.kv.get(c.key, (b"", 0, 0))
        actual = version if c.target == "version" else mod
        return actual == c.value if c.op == "==" else actual > c.value

    def run(self, txn: Txn) -> Outcome:
        succeeded = all(self._holds(c) for c in txn.compare)
        rev = self.revision + 1
        wrote = False
        found: dict[str, Stored] = {}
        for op in txn.success if succeeded else txn.failure:
            if isinstance(op, Put):
                version = self.kv.get(op.key, (b"", 0, 0))[2]
                self.kv[op.key] = (op.value.encode(), rev, version + 1)
                wrote = True
            elif isinstance(op, Delete):
                wrote = self.kv.pop(op.key, None) is not None or wrote
            elif op.key in self.kv:
                value, mod, _version = self.kv[op.key]
                found[op.key] = Stored(value, mod)
        if wrote:
            self.revision = rev
        return Outcome(succeeded, found)

    def take_over(self, holder: str, failed: str, now: float = 100.0) -> Grant | Refusal:
        outcome = self.run(takeover_txn(KEYS, holder, failed, now))
        return takeover_answer(KEYS, holder, failed, outcome)

    def release(self, failed: str, token: int) -> bool:
        return released(KEYS, failed, self.run(release_txn(KEYS, failed, token)))


def test_the_witness_grants_a_takeover_of_a_site_it_lost_too() -> None:
    etcd = FakeEtcd()
    etcd.heard(A, B)
    etcd.silent(B)
    answer = etcd.take_over(A, B, now=123.0)
    assert isinstance(answer, Grant)
    assert (answer.lease.holder, answer.lease.failed_site, answer.lease.granted_at) == (
        A, B, 123.0)
    assert answer.lease.token == etcd.revision, "the token is the revision of the write"
    # A retried request (operator restarted mid-failover) gets the same lease, even
    # after the holder's own heartbeat lapsed.
    etcd.silent(A)
    assert etcd.take_over(A, B, now=200.0) == answer


def test_a_cut_link_between_live_sites_gets_no_lease() -> None:
    etcd = FakeEtcd()
    etcd.heard(A, B)
    answer = etcd.take_over(A, B)
    assert isinstance(answer, Refusal) and "only the link" in answer.reason
    assert KEYS.lease(B) not in etcd.kv


def test_an_asker_the_witness_does_not_hear_gets_no_lease() -> None:
    answer = FakeEtcd().take_over(A, B)
    assert answer == Refusal(f"the witness has no recent heartbeat from {A}")


def test_no_double_takeover_when_the_witness_sees_one_side() -> None:
    etcd = FakeEtcd()
    etcd.heard(A)
    first = etcd.take_over(A, B)
    assert isinstance(first, Grant)
    etcd.heard(B)  # site-b comes back (or was only cut off from site-a) and asks
    second = etcd.take_over(B, A)
    assert second == Refusal(f"{B} is itself taken over by {A}")
    third = etcd.take_over("site-c", B)
    assert third == Refusal(f"{A} already holds {B}'s lease (token {first.lease.token})")


def test_fencing_tokens_only_grow_and_stale_releases_do_nothing() -> None:
    etcd = FakeEtcd()
    etcd.heard(A)
    first = etcd.take_over(A, B)
    assert isinstance(first, Grant)
    assert etcd.release(B, token=first.lease.token - 1) is False
    assert KEYS.lease(B) in etcd.kv
    assert etcd.release(B, first.lease.token) is True
    assert etcd.release(B, first.lease.token) is True, "releasing twice is harmless"
    etcd.heard(A)
    second = etcd.take_over(A, B)
    assert isinstance(second, Grant) and second.lease.token > first.lease.token
    # The first holder's late release (an old token) leaves the new lease alone.
    assert etcd.release(B, first.lease.token) is False


def test_the_takeover_is_one_transaction_on_the_four_keys() -> None:
    txn = takeover_txn(KEYS, A, B, 1.0)
    assert txn.compare == (
        Compare("/test/witness/leases/site-b", "version", "==", 0),
        Compare("/test/witness/leases/site-a", "version", "==", 0),
        Compare("/test/witness/alive/site-a", "version", ">", 0),
        Compare("/test/witness/alive/site-b", "version", "==", 0))
    put, read_back = txn.success
    assert isinstance(put, Put) and read_back == Get(put.key)
    assert json.loads(put.value) == {"holder": A, "failed_site": B, "granted_at": 1.0}
    assert {op.key for op in txn.failure} == {c.key for c in txn.compare}


def test_a_release_compares_the_lease_revision() -> None:
    txn = release_txn(KEYS, B, 42)
    assert txn.compare == (Compare(KEYS.lease(B), "mod", "==", 42),)
    assert txn.success == (Delete(KEYS.lease(B)),)


@pytest.mark.parametrize(("seconds", "ttl"), [(2, 2), (5.0, 5), (30, 30)])
def test_the_peer_timeout_is_the_heartbeat_lease_ttl(seconds: float, ttl: int) -> None:
    assert heartbeat_ttl(seconds) == ttl


@pytest.mark.parametrize("seconds", [1, 1.5, 2.5, 0])
def test_a_peer_timeout_etcd_cannot_keep_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="whole seconds, at least 2"):
        heartbeat_ttl(seconds)


@pytest.mark.parametrize("prefix", ["hotline", "/hotline/", ""])
def test_a_prefix_must_be_absolute_without_a_trailing_slash(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        Keys(prefix)


def test_etcd_endpoints_are_a_comma_separated_list_of_http_urls() -> None:
    assert parse_endpoints("http://10.0.0.1:2379, http://etcd-1.third:32379,etcd-2") == [
        Endpoint("10.0.0.1", 2379), Endpoint("etcd-1.third", 32379), Endpoint("etcd-2", 2379)]
    with pytest.raises(ValueError, match="only http://"):
        parse_endpoints("https://etcd:2379")
    with pytest.raises(ValueError, match="no etcd endpoint"):
        parse_endpoints(" , ")
