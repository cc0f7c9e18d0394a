"""Pure decisions of the edge follower: which list to apply, how long to back off."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hotline_operators.edge.models import ListCheck


def destination_lines(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def check_list(data: Mapping[str, str] | None, key: str) -> ListCheck:
    """The ConfigMap's list if it is one Kamailio can route with.

    A missing key or a list without destinations would make Kamailio refuse every
    call, so such a change is refused and the running list stays (the operator never
    writes one: it keeps the old list when no destination is left).
    """
    if not data or key not in data:
        return ListCheck(None, 0, f"the ConfigMap has no key {key!r}")
    text = data[key]
    lines = destination_lines(text)
    if not lines:
        return ListCheck(None, 0, f"{key} lists no destination")
    for line in lines:
        fields = line.split()
        if len(fields) < 2 or not fields[0].isdigit() or not fields[1].startswith("sip"):
            return ListCheck(None, len(lines), f"{key}: {line!r} is not "
                                               "'setid sip:host:port flags priority attrs'")
    return ListCheck(text if text.endswith("\n") else text + "\n", len(lines))


def backoff(failures: int, initial_s: float, max_s: float) -> float:
    """Doubling delay after consecutive failures (0 after a success)."""
    if failures <= 0:
        return 0.0
    return min(max_s, initial_s * 2.0 ** (failures - 1))


def rpc_request(method: str, request_id: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "method": method, "id": request_id}).encode()


def rpc_result(reply: bytes, request_id: int) -> Any:
    """The result of a JSON-RPC reply; ValueError with Kamailio's message otherwise."""
    try:
        answer = json.loads(reply)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Kamailio's RPC reply is not JSON: {reply[:200]!r}") from exc
    if not isinstance(answer, dict) or answer.get("id") != request_id:
        raise ValueError(f"unexpected RPC reply (wanted id {request_id}): {reply[:200]!r}")
    if "error" in answer:
        raise ValueError(f"Kamailio refused: {answer['error']}")
    return answer.get("result")


def listed_uris(result: Any) -> set[str]:
    """The destination URIs of a ``dispatcher.list`` RPC result (all sets)."""
    uris: set[str] = set()
    if not isinstance(result, dict):
        return uris
    for record in result.get("RECORDS") or []:
        for target in (record.get("SET") or {}).get("TARGETS") or []:
            uri = (target.get("DEST") or {}).get("URI")
            if uri:
                uris.add(str(uri))
    return uris


def list_uris(text: str) -> set[str]:
    """The destination URIs of a dispatcher.list file."""
    return {line.split()[1] for line in destination_lines(text)}
