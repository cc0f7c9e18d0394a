"""The witness's state in etcd: runs ``witness.logic``'s transactions, writes heartbeats.

Client: ``aetcd`` (asyncio, etcd's gRPC API), because it is maintained (1.0.0, 2026),
fits the aiohttp service without threads, and exposes what the witness needs as
etcd has it: multi-key transactions with version/mod_revision compares, leases with
a TTL, and each key's mod_revision (the fencing token). ``etcd3gw`` (the JSON gateway)
was the alternative; it is synchronous, so every request would hold a thread.

aetcd opens plaintext gRPC to one address: several endpoints are tried in turn (one
etcd member down must not stop the witness), and ``https://`` endpoints are refused
at start rather than silently spoken to in plaintext.

Nothing here is kept that matters across a restart: every answer comes from etcd.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aetcd  # type: ignore[import-untyped]
import aetcd.exceptions  # type: ignore[import-untyped]

from hotline_operators.witness.logic import (
    Compare,
    Delete,
    Get,
    Keys,
    Lease,
    Outcome,
    Put,
    Stored,
    Txn,
    read_lease,
)

log = logging.getLogger("hotline.witness.store")
T = TypeVar("T")

# gRPC backs off reconnecting up to 2 minutes by default; after an etcd restart the
# witness must answer again within a heartbeat or two.
_CHANNEL_OPTIONS = {"grpc.initial_reconnect_backoff_ms": 200,
                    "grpc.min_reconnect_backoff_ms": 200,
                    "grpc.max_reconnect_backoff_ms": 1000}


class StoreUnavailable(RuntimeError):
    """No etcd endpoint answered; the message says which and why."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"http://{self.host}:{self.port}"


def parse_endpoints(text: str) -> list[Endpoint]:
    """``http://host:port[,http://host:port…]`` → endpoints, in order of preference."""
    found: list[Endpoint] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        url = urlsplit(item if "://" in item else f"http://{item}")
        if url.scheme != "http":
            raise ValueError(f"etcd endpoint {item!r}: only http:// is supported (the aetcd "
                             "client speaks plaintext gRPC); reach etcd over a private "
                             "network or a local TLS proxy")
        if not url.hostname or url.path not in ("", "/"):
            raise ValueError(f"etcd endpoint {item!r} must be http://host:port")
        found.append(Endpoint(url.hostname, url.port or 2379))
    if not found:
        raise ValueError("no etcd endpoint given (--etcd http://host:port[,…])")
    return found


class EtcdStore:
    """etcd at the third location, reached through the first endpoint that answers."""

    def __init__(self, endpoints: Sequence[Endpoint], keys: Keys,
                 timeout_s: float = 1.0) -> None:
        self.endpoints = list(endpoints)
        self.keys = keys
        self._clients = [aetcd.Client(host=e.host, port=e.port, timeout=timeout_s,
                                      options=_CHANNEL_OPTIONS) for e in self.endpoints]
        self._current = 0  # the endpoint that answered last; only a preference
        self._down_since: float | None = None  # for logging the change once, not each call

    @property
    def where(self) -> str:
        return ",".join(str(e) for e in self.endpoints)

    async def close(self) -> None:
        for client in self._clients:
            await client.close()

    async def _call(self, what: str, action: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``action(client)`` on the endpoint that answered last, then the others."""
        errors: list[str] = []
        count = len(self._clients)
        for step in range(count):
            index = (self._current + step) % count
            try:
                result = await action(self._clients[index])
            except (aetcd.exceptions.ClientError, TimeoutError) as exc:
                errors.append(f"{self.endpoints[index]}: {type(exc).__name__}: {exc}")
                continue
            if index != self._current:
                log.warning("etcd %s did not answer; using %s", self.endpoints[self._current],
                            self.endpoints[index])
                self._current = index
            if self._down_since is not None:
                log.warning("etcd answers again after %.0f s (%s); the witness grants "
                            "leases again", time.monotonic() - self._down_since,
                            self.endpoints[index])
                self._down_since = None
            return result
        reason = f"etcd is unreachable while {what} ({'; '.join(errors)})"
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.error("%s: heartbeats, takeovers and releases answer 503 and the sites "
                      "retry; leases already granted stay held in etcd", reason)
        raise StoreUnavailable(reason)

    async def txn(self, txn: Txn, what: str) -> Outcome:
        async def run(client: Any) -> Outcome:
            ops = client.transactions
            succeeded, responses = await client.transaction(
                compare=[_compare(ops, c) for c in txn.compare],
                success=[_op(ops, o) for o in txn.success],
                failure=[_op(ops, o) for o in txn.failure])
            found: dict[str, Stored] = {}
            for response in responses:
                if isinstance(response, list):  # a Get's [(value, KeyValue)]; [] if absent
                    for _value, kv in response:
                        found[kv.key.decode()] = Stored(kv.value, kv.mod_revision)
            return Outcome(bool(succeeded), found)

        return await self._call(what, run)

    async def heartbeat(self, site: str, ttl_s: int, now: float) -> None:
        """The site's alive key, on a fresh etcd lease of ``ttl_s`` seconds.

        A fresh lease per heartbeat (not a kept-alive one) so that nothing about it
        needs remembering: a restarted witness simply writes the next one. The old
        lease expires on its own, with no key left on it.
        """
        async def run(client: Any) -> None:
            lease = await client.lease(ttl_s)
            await client.put(self.keys.alive(site).encode(),
                             json.dumps({"site": site, "at": now}).encode(), lease=lease.id)

        await self._call(f"recording {site}'s heartbeat", run)

    async def leases(self) -> list[Lease]:
        async def run(client: Any) -> list[Lease]:
            found = await client.get_prefix(self.keys.leases.encode())
            return [read_lease(Stored(kv.value, kv.mod_revision)) for kv in found]

        return await self._call("listing leases", run)

    async def revision(self) -> int:
        """The store's current revision, read linearizably (so only with a quorum)."""
        async def run(client: Any) -> int:
            found = await client.get_prefix(self.keys.leases.encode(), keys_only=True)
            return int(found.header.revision)

        return await self._call("checking health", run)


def _compare(ops: Any, compare: Compare) -> Any:
    target = ops.version(compare.key) if compare.target == "version" else ops.mod(compare.key)
    return target == compare.value if compare.op == "==" else target > compare.value


def _op(ops: Any, op: Put | Get | Delete) -> Any:
    if isinstance(op, Put):
        return ops.put(op.key.encode(), op.value.encode())
    if isinstance(op, Get):
        return ops.get(op.key.encode())
    return ops.delete(op.key.encode())
