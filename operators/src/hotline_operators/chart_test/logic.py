"""SIP OPTIONS by hand, and the checks' verdicts: pure functions.

One request and one status line need no SIP stack: a library (pjsua2, a SIP parser)
would be a large dependency of the test image for twenty lines of RFC 3261 text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotline_operators.site.readiness import deployment_state

_STATUS = re.compile(r"^SIP/2\.0 ([1-6][0-9]{2}) ?(.*)$")


@dataclass(frozen=True)
class Options:
    """One OPTIONS transaction's identifiers (random per run: caller's choice)."""

    target: str  # host:port of the edge
    local: str  # host:port the answer comes back to
    call_id: str
    branch: str  # z9hG4bK… (RFC 3261 magic cookie)
    tag: str


def options_request(o: Options) -> bytes:
    """A minimal, well-formed OPTIONS (Kamailio's sanity checks drop malformed ones).
    ``rport``: answer to the address the request came from (RFC 3581), so a NAT or a
    pod's SNAT between the test and the edge does not lose the response."""
    lines = [
        f"OPTIONS sip:{o.target} SIP/2.0",
        f"Via: SIP/2.0/UDP {o.local};branch={o.branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:hotline-chart-test@{o.local}>;tag={o.tag}",
        f"To: <sip:{o.target}>",
        f"Call-ID: {o.call_id}",
        "CSeq: 1 OPTIONS",
        f"Contact: <sip:hotline-chart-test@{o.local}>",
        "Accept: application/sdp",
        "User-Agent: hotline-chart-test",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass(frozen=True)
class SipResponse:
    code: int
    status_line: str
    call_id: str | None

    @property
    def final(self) -> bool:
        return self.code >= 200


def parse_response(data: bytes) -> SipResponse:
    """The status line and Call-ID of a SIP response; ValueError if it is none."""
    text = data.decode("utf-8", errors="replace")
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.replace("\r\n", "\n").split("\n")
    match = _STATUS.match(lines[0].strip())
    if match is None:
        raise ValueError(f"not a SIP response: {lines[0][:80]!r}")
    call_id = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() in ("call-id", "i"):  # "i": the compact form
            call_id = value.strip()
    return SipResponse(int(match.group(1)), lines[0].strip(), call_id)


def split_host_port(text: str, default_port: int = 5060) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        return text.strip("[]"), default_port
    return host.strip("[]"), int(port)


def site_ready(site: Mapping[str, Any] | None) -> tuple[bool, str]:
    if site is None:
        return False, "not found"
    for c in (site.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True", f"Ready={c.get('status')} " \
                f"({c.get('reason', '')}: {c.get('message', '')})"
    return False, "no Ready condition yet"


def deployments_ready(deployments: Mapping[str, Mapping[str, Any]]) -> tuple[bool, str]:
    """Every Deployment rolled out and ready; the text names those that are not."""
    if not deployments:
        return False, "no Deployment labelled app.kubernetes.io/part-of=hotline"
    states = [deployment_state(n, d) for n, d in sorted(deployments.items())]
    waiting = [f"{s.name} {s.ready}/{s.wanted}" for s in states if not s.is_ready]
    if waiting:
        return False, "not ready: " + ", ".join(waiting)
    return True, f"{len(states)} ready: " + ", ".join(s.name for s in states)
