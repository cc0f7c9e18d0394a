"""A tiny HTTP server (daemon thread) answering from the owner's latest snapshot."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hotline_media_nodes.health.logic import Snapshot, healthz, metrics_text, readyz

log = logging.getLogger("hotline.media.health")


class HealthServer:
    """Serves ``/healthz``, ``/readyz``, ``/metrics``; ``update()`` swaps the snapshot.

    The owner's loop publishes an immutable snapshot; the HTTP thread only reads the
    reference, so no lock is needed and a slow scrape never stalls a call.
    """

    def __init__(self, host: str, port: int, labels: dict[str, str],
                 snapshot: Snapshot | None = None) -> None:
        self.snapshot = snapshot or Snapshot("starting")
        self.labels = labels
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                s = server.snapshot
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    status, body, ctype = *healthz(s), "text/plain"
                elif path == "/readyz":
                    status, body, ctype = *readyz(s), "text/plain"
                elif path == "/metrics":
                    status, body = 200, metrics_text(s, server.labels)
                    ctype = "text/plain; version=0.0.4"
                else:
                    status, body, ctype = 404, "try /healthz, /readyz or /metrics\n", "text/plain"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{ctype}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("health %s", format % args)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="health",
                                        daemon=True)
        self._thread.start()

    def update(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
