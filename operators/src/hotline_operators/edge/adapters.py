"""The edge follower's I/O: the list file, Kamailio's JSON-RPC socket, the API server."""

from __future__ import annotations

import itertools
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubernetes import client, watch

from hotline_operators.edge.logic import rpc_request, rpc_result


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` in one rename: Kamailio never reads a half-written list."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class KamailioRpc:
    """JSON-RPC over Kamailio's jsonrpcs unix datagram socket (no kamcmd needed)."""

    def __init__(self, server: Path, timeout_s: float) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)

    def call(self, method: str) -> Any:
        request_id = next(self._ids)
        # Kamailio answers to the sender's address: bind our own socket next to its.
        reply_path = self.server.parent / f".follower-{uuid.uuid4().hex[:12]}.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(str(reply_path))
            try:
                reply_path.chmod(0o666)  # Kamailio may run under another uid
                sock.settimeout(self.timeout_s)
                sock.sendto(rpc_request(method, request_id), str(self.server))
                return rpc_result(sock.recv(1 << 20), request_id)
            finally:
                reply_path.unlink(missing_ok=True)


class ConfigMapSource:
    """One ConfigMap by name: list it (with a resourceVersion), then watch from there."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str) -> None:
        self.core = client.CoreV1Api(api)
        self.namespace = namespace
        self.selector = f"metadata.name={name}"

    def current(self) -> tuple[dict[str, str] | None, str]:
        """The ConfigMap's data (None when it does not exist yet) and the list's version."""
        listing = self.core.list_namespaced_config_map(self.namespace,
                                                       field_selector=self.selector)
        data = dict(listing.items[0].data or {}) if listing.items else None
        assert listing.metadata is not None  # a list always carries its version
        return data, str(listing.metadata.resource_version)

    def changes(self, resource_version: str,
                timeout_s: int) -> Iterator[tuple[str, dict[str, str] | None, str]]:
        """(event type, data, resourceVersion) until the server ends the watch.

        ApiException 410 means the version is too old: list again.
        """
        stream = watch.Watch().stream  # type: ignore[no-untyped-call]
        for event in stream(  # type: ignore[no-untyped-call]
                self.core.list_namespaced_config_map, self.namespace,
                field_selector=self.selector, resource_version=resource_version,
                timeout_seconds=timeout_s, allow_watch_bookmarks=True):
            obj = event["object"]
            if event["type"] == "ERROR":
                code = obj.get("code") if isinstance(obj, dict) else None
                raise client.ApiException(status=code or 500, reason=str(obj))
            if event["type"] == "BOOKMARK":  # only a newer version to resume from
                yield "BOOKMARK", None, str(event["raw_object"]["metadata"]["resourceVersion"])
                continue
            version = str(obj.metadata.resource_version)
            data = None if event["type"] == "DELETED" else dict(obj.data or {})
            yield str(event["type"]), data, version
