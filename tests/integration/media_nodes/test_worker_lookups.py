"""Self-service lookup over HTTP: the caller keys in an order id, the node asks a small
HTTP server this test starts, and says the answer — or the fallback when it is too slow.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from media_nodes_support import (
    FLOW,
    CallReader,
    Worker,
    render,
    run_sipp,
    start_worker,
)

from devstack.kafka import KafkaCluster
from hotline_events.catalog import Catalog
from hotline_events.models import EventModel
from hotline_events.models.calls import CallCompleted, SelfServiceCompleted
from hotline_media_nodes.ivr.loader import load_flow
from hotline_media_nodes.prompts import install_prompts

pytestmark = pytest.mark.integration

SLOW_SECONDS = 3.0  # the backend's delay for a slow order; the flow waits 1 s


class Orders(BaseHTTPRequestHandler):
    requests: list[str] = []  # noqa: RUF012 (one server per module)

    def do_GET(self) -> None:
        Orders.requests.append(self.path)
        if self.path == "/orders/12345":
            self.reply(200, {"status": "shipped"})
        elif self.path == "/orders/99999":
            time.sleep(SLOW_SECONDS)  # a backend that does not answer in time
            self.reply(200, {"status": "shipped"})
        else:
            self.reply(404, {"error": "no such order"})

    def reply(self, status: int, body: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        # The node may have given up waiting, as it should.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def orders() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Orders)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def lookup_worker(kafka_site_a: KafkaCluster, catalog: Catalog, prompt_cache: Path,
                  orders: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    workdir = tmp_path_factory.mktemp("lookups")
    data = yaml.safe_load(FLOW.read_text())
    data["prompts"].update(ask_order="Please key in your order number, then press hash.",
                           order_shipped="Your order has been shipped.",
                           order_unknown="Sorry, we cannot look up your order right now.")
    data["services"]["order"] = {
        "prompt": "ask_order", "then": "hangup",
        "lookup": {"url": f"{orders}/orders/{{digits}}", "field": "status",
                   "answers": {"shipped": "order_shipped"}, "fallback": "order_unknown",
                   "min_digits": 4, "max_digits": 8, "timeout_seconds": 1}}
    data["entry_points"].append({"number": "800102", "target": "service:order"})
    flow = workdir / "lookup.yaml"
    flow.write_text(yaml.safe_dump(data))
    install_prompts(load_flow(flow), prompt_cache)
    w = start_worker(kafka_site_a.bootstrap, catalog, prompt_cache, workdir, "mn-it-lookup",
                     flow=flow)
    yield w
    assert w.stop() == 0, f"worker exited badly:\n{w.log_text()[-3000:]}"


def keys(digits: str) -> str:
    """SIP INFO requests for ``digits``, each its own transaction."""
    out = []
    for i, key in enumerate(digits):
        out.append(f"""  <send retrans="500">
    <![CDATA[

      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]-k{i}
      [routes]
      From: <sip:{{{{caller}}}}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {i + 2} INFO
      Contact: <sip:{{{{caller}}}}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={key}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>""")
    return "\n".join(out)


def call(sipp: Path, tmp_path: Path, worker: Worker, caller: str, digits: str) -> None:
    # ``keys`` first: its INFO requests hold the ``caller`` placeholder filled in next.
    scenario = render("keyed_id_system_bye.xml", tmp_path, keys=keys(digits), caller=caller,
                      bye_timeout_ms="30000")
    run_sipp(sipp, scenario, worker.port, service="800102", timeout_s=60)


def service_event(events: list[EventModel]) -> SelfServiceCompleted:
    return next(e for e in events if isinstance(e, SelfServiceCompleted))


def test_an_order_id_keyed_in_is_looked_up_and_its_status_said(
        lookup_worker: Worker, sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    caller = "+4915112345621"
    call(sipp, tmp_path, lookup_worker, caller, "12345#")
    events = call_events.wait_for(caller, lambda evs: isinstance(evs[-1], CallCompleted))
    assert [type(e).__name__ for e in events] == ["CallOffered", "CallAnsweredByIvr",
                                                  "SelfServiceCompleted", "CallCompleted"]
    done = service_event(events)
    assert (done.service, done.outcome) == ("order", "resolved")
    assert "/orders/12345" in Orders.requests
    assert "lookup order answered 'shipped'" in lookup_worker.log_text()


def test_a_backend_too_slow_gets_the_spoken_fallback(
        lookup_worker: Worker, sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    caller = "+4915112345622"
    call(sipp, tmp_path, lookup_worker, caller, "99999#")
    events = call_events.wait_for(caller, lambda evs: isinstance(evs[-1], CallCompleted))
    done = service_event(events)
    assert (done.service, done.outcome) == ("order", "failed")
    assert done.duration_seconds < SLOW_SECONDS + 5  # it did not wait for the backend
    log = lookup_worker.log_text()
    assert "lookup order failed: no answer within 1 s" in log
    assert "the caller hears the fallback" in log
