"""A peer site's health endpoint that a test or benchmark switches off and on.

The operator probes each peer over HTTP (``spec.peerProbes``); a failover test makes
the peer "die" by turning this endpoint to 503 while its heartbeats stop. It is a
real HTTP server on loopback, so the operator's own probe code runs unchanged.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class PeerHealthEndpoint:
    """``GET /healthz`` answers 200 while ``alive``, 503 otherwise."""

    def __init__(self, *, alive: bool = True) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if endpoint.alive else 503)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass  # the operator polls every second: keep test output readable

        self.alive = alive
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/healthz"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
