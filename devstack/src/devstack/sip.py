"""SIP bits sent by hand: an OPTIONS ping to see whether a SIP proxy answers."""

from __future__ import annotations

import socket
import uuid


def options_ok(port: int, host: str = "127.0.0.1") -> bool:
    """One OPTIONS to the proxy at ``host:port`` from an allowed trunk address
    (127.0.0.1): did it answer 200 within half a second?"""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.5)
        local = s.getsockname()[1]
        branch = uuid.uuid4().hex
        s.sendto((f"OPTIONS sip:edge@127.0.0.1:{port} SIP/2.0\r\n"
                  f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{branch}\r\n"
                  f"From: <sip:probe@127.0.0.1:{local}>;tag={branch[:8]}\r\n"
                  f"To: <sip:edge@127.0.0.1:{port}>\r\nCall-ID: {branch}\r\n"
                  "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
                 (host, port))
        try:
            return s.recv(65535).startswith(b"SIP/2.0 200")
        except OSError:
            return False
