"""``/healthz``, ``/readyz`` and ``/metrics`` of a callback scheduler (a thread), and
``POST /tenants/{tenant}/callbacks/{callback_id}/preview`` for the agent desktop's answer
to an agent-first preview (``{"agent_id": …, "attempt": n, "decision": "accepted"}``).

Alive (``/healthz`` 200) while its loop turns: restarting a scheduler because Cassandra
or Kafka is away would not help, and a scheduler restarted while the other datacenter
is away may not dial until it is back (``ownership``). Ready (``/readyz`` 200) once a
tick completed recently, nothing is failing and this site may dial; otherwise the body
says what is wrong: ``problem`` (what failed, with the consistency and datacenter),
``not_dialling`` (why this site holds its dials), ``warning`` (e.g. the other
datacenter is away and this site goes on alone), and the parked and dead-lettered
events.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

STALE_TICK_S = 30.0
PREVIEW_PATH = re.compile(r"^/tenants/([A-Za-z0-9_-]+)/callbacks/([A-Za-z0-9._-]+)/preview$")
# (tenant, callback id, JSON body) → (HTTP status, JSON reply)
PreviewAnswer = Callable[[str, str, Any], tuple[int, dict[str, Any]]]


class Health:
    def __init__(self) -> None:
        self.problem: str | None = None
        self.not_dialling: str | None = None
        self.warning: str | None = None
        self.last_failure: str | None = None  # one callback's step that failed, skipped
        self.counts: dict[str, int] = {}
        self.last_tick_ok = float("-inf")
        self.last_turn = time.monotonic()  # the scheduler's loop, last seen turning

    def report(self) -> tuple[int, dict[str, object]]:
        since = time.monotonic() - self.last_tick_ok
        fresh = since < STALE_TICK_S
        status = ("degraded" if self.problem else "not-dialling" if self.not_dialling
                  else "ok" if fresh else "starting")
        body: dict[str, object] = {"status": status, "problem": self.problem,
                                   "not_dialling": self.not_dialling, "warning": self.warning,
                                   "last_failure": self.last_failure,
                                   "seconds_since_tick": None if since == float("inf")
                                   else round(since, 1), **self.counts}
        return (200 if status == "ok" else 503), body

    def alive(self) -> bool:
        return time.monotonic() - self.last_turn < STALE_TICK_S


def serve(bind: str, port: int, health: Health,
          preview: PreviewAnswer | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            found = PREVIEW_PATH.match(self.path)
            if found is None or preview is None:
                self._send(404, b'{"error": "not found"}', "application/json")
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                self._send(400, json.dumps({"error": f"body is not JSON: {exc}",
                                            "field": "body"}).encode(), "application/json")
                return
            try:
                code, reply = preview(found.group(1), found.group(2), body)
            except Exception as exc:  # Cassandra or Kafka down: the desktop retries
                code, reply = 503, {"error": f"not recorded, try again: {exc}"}
            self._send(code, json.dumps(reply).encode(), "application/json")

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path in ("/healthz", "/readyz"):
                code, body = health.report()
                if self.path == "/healthz":
                    code = 200 if health.alive() else 503
                self._send(code, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every few seconds would drown the log

    server = ThreadingHTTPServer((bind, port), Handler)
    threading.Thread(target=server.serve_forever, name="callbacks-http", daemon=True).start()
    return server
