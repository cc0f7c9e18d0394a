"""The witness's decisions, as plain data and functions (no etcd, no clock, no I/O).

The state lives in etcd, under one prefix:

    <prefix>/alive/<site>    written on each heartbeat, attached to an etcd lease whose
                             TTL is the peer timeout: the site counts as alive while the
                             key exists, so etcd itself forgets a silent site.
    <prefix>/leases/<site>   a failover lease on <site> (the failed one); no TTL, it is
                             held until the holder releases it at failback. Its value is
                             JSON {holder, failed_site, granted_at}; its mod_revision is
                             the fencing token.

A takeover is one etcd transaction: it writes the lease only if no lease covers the
failed site, the holder is alive and not itself taken over, and the failed site is
not alive. Its failure branch reads the same keys, so why it was refused (or that
the same holder already has the lease: a retry) is known from the same atomic view.
The token is etcd's revision of the write: it grows with every write to the store
and survives restarts of the witness and of etcd, so a stale owner's writes can be
refused downstream (dispatcher sets, callback claims).

Here are the transactions as data (:class:`Txn`) and the readings of their outcome;
``witness.store`` sends them to etcd.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

DEFAULT_PREFIX = "/hotline/witness"
MIN_PEER_TIMEOUT_S = 2  # etcd refuses leases shorter than about 1.5 s (3 election ticks / 2)


@dataclass(frozen=True)
class Lease:
    holder: str  # the site that took over
    failed_site: str
    token: int  # the lease key's mod_revision in etcd
    granted_at: float  # the witness's wall clock, for people; never compared


@dataclass(frozen=True)
class Grant:
    lease: Lease


@dataclass(frozen=True)
class Refusal:
    reason: str


# -- transactions as data ------------------------------------------------------------

@dataclass(frozen=True)
class Compare:
    """``<target>(key) <op> value``; a key that does not exist has version 0 and
    mod_revision 0."""

    key: str
    target: Literal["version", "mod"]
    op: Literal["==", ">"]
    value: int


@dataclass(frozen=True)
class Put:
    key: str
    value: str


@dataclass(frozen=True)
class Get:
    key: str


@dataclass(frozen=True)
class Delete:
    key: str


Op = Put | Get | Delete


@dataclass(frozen=True)
class Txn:
    compare: tuple[Compare, ...]
    success: tuple[Op, ...]
    failure: tuple[Op, ...]


@dataclass(frozen=True)
class Stored:
    """A key as etcd returned it."""

    value: bytes
    mod_revision: int


@dataclass(frozen=True)
class Outcome:
    """What etcd answered to a :class:`Txn`: which branch ran and the keys its Gets
    found (a Get after a Put in the same branch sees the Put, with its revision)."""

    succeeded: bool
    found: Mapping[str, Stored]


@dataclass(frozen=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/") or self.prefix.endswith("/"):
            raise ValueError(f"the witness's etcd prefix must start with '/' and not end "
                             f"with one: {self.prefix!r}")

    def alive(self, site: str) -> str:
        return f"{self.prefix}/alive/{site}"

    def lease(self, failed_site: str) -> str:
        return f"{self.prefix}/leases/{failed_site}"

    @property
    def leases(self) -> str:
        """The prefix of every lease key."""
        return f"{self.prefix}/leases/"


def heartbeat_ttl(peer_timeout_s: float) -> int:
    """The etcd lease TTL of a heartbeat: the peer timeout in whole seconds."""
    ttl = math.ceil(peer_timeout_s)
    if ttl != peer_timeout_s or ttl < MIN_PEER_TIMEOUT_S:
        raise ValueError(f"the peer timeout must be whole seconds, at least "
                         f"{MIN_PEER_TIMEOUT_S} (an etcd lease TTL), not {peer_timeout_s}")
    return ttl


# -- takeover --------------------------------------------------------------------------

def takeover_txn(keys: Keys, holder: str, failed_site: str, now: float) -> Txn:
    """Grant ``holder`` the lease on ``failed_site`` if, at one revision, no lease covers
    the failed site or the holder, the holder is alive and the failed site is not."""
    lease_key, holder_lease = keys.lease(failed_site), keys.lease(holder)
    holder_alive, failed_alive = keys.alive(holder), keys.alive(failed_site)
    value = json.dumps({"holder": holder, "failed_site": failed_site, "granted_at": now},
                       sort_keys=True)
    return Txn(
        compare=(Compare(lease_key, "version", "==", 0),
                 Compare(holder_lease, "version", "==", 0),
                 Compare(holder_alive, "version", ">", 0),
                 Compare(failed_alive, "version", "==", 0)),
        # Read back in the same transaction: the lease's mod_revision is the token.
        success=(Put(lease_key, value), Get(lease_key)),
        failure=(Get(lease_key), Get(holder_lease), Get(holder_alive), Get(failed_alive)))


def read_lease(stored: Stored) -> Lease:
    body = json.loads(stored.value)
    return Lease(holder=str(body["holder"]), failed_site=str(body["failed_site"]),
                 token=stored.mod_revision, granted_at=float(body["granted_at"]))


def takeover_answer(keys: Keys, holder: str, failed_site: str,
                    outcome: Outcome) -> Grant | Refusal:
    """The grant (a new lease, or the same one again for a retry) or why not.

    The refusal reasons are checked in a fixed order, the most telling first: a lease
    someone holds, the holder being taken over, then what the witness hears.
    """
    found = outcome.found
    existing = found.get(keys.lease(failed_site))
    if existing is not None:
        lease = read_lease(existing)
        if lease.holder == holder:
            # Just written, or a retried request: either way the lease in the store.
            return Grant(lease)
        return Refusal(f"{lease.holder} already holds {failed_site}'s lease "
                       f"(token {lease.token})")
    over_holder = found.get(keys.lease(holder))
    if over_holder is not None:
        return Refusal(f"{holder} is itself taken over by {read_lease(over_holder).holder}")
    if keys.alive(holder) not in found:
        return Refusal(f"the witness has no recent heartbeat from {holder}")
    if keys.alive(failed_site) in found:
        return Refusal(f"the witness still hears {failed_site}: only the link "
                       "between the sites is cut")
    if outcome.succeeded:  # the Get after the Put always finds it; say so if not
        return Refusal("the witness wrote the lease but could not read it back; ask again")
    # The failure branch reads atomically with its compares: one of the above holds.
    return Refusal("the witness's store refused the lease but shows no reason; ask again")


# -- release (failback) ------------------------------------------------------------------

def release_txn(keys: Keys, failed_site: str, token: int) -> Txn:
    """Delete the lease only if it is still the one with this token: a stale holder
    (an older lease, since released and granted again) releases nothing."""
    lease_key = keys.lease(failed_site)
    return Txn(compare=(Compare(lease_key, "mod", "==", token),),
               success=(Delete(lease_key),), failure=(Get(lease_key),))


def released(keys: Keys, failed_site: str, outcome: Outcome) -> bool:
    """Whether no lease covers the failed site any more."""
    return outcome.succeeded or keys.lease(failed_site) not in outcome.found
