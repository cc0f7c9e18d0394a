"""Kamailio, configured by ``hotline_media_nodes.edge``, spreads calls over real workers.

SIPp → Kamailio (dispatcher, record-route) → pjsua2 worker: the call runs end to end
through the edge, in-dialog requests (INFO, the worker's BYE) follow the route, a
non-trunk source is refused at the edge, and a killed worker's next calls reach the
other worker.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from media_nodes_support import (
    CallReader,
    Worker,
    free_udp_port,
    render,
    run_sipp,
    start_worker,
)

from devstack.kafka import KafkaCluster
from devstack.sip import options_ok
from hotline_events.catalog import Catalog
from hotline_events.models.calls import CallCompleted, CallOffered
from hotline_media_nodes.edge import (
    Destination,
    EdgeConfig,
    render_dispatcher_list,
    render_kamailio_cfg,
)

pytestmark = pytest.mark.integration


@dataclass
class Edge:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    workers: dict[str, Worker]


@pytest.fixture()
def edge(kafka_site_a: KafkaCluster, catalog: Catalog, prompt_cache: Path,
         tmp_path: Path) -> Iterator[Edge]:
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    workers = {name: start_worker(kafka_site_a.bootstrap, catalog, prompt_cache, tmp_path, name)
               for name in ("mn-edge-a", "mn-edge-b")}
    port = free_udp_port()
    cfg = EdgeConfig(listen=f"127.0.0.1:{port}", trunks=("127.0.0.1/32",),
                     destinations=tuple(Destination(f"127.0.0.1:{w.port}", name)
                                        for name, w in workers.items()))
    (tmp_path / "dispatcher.list").write_text(render_dispatcher_list(cfg))
    (tmp_path / "kamailio.cfg").write_text(
        render_kamailio_cfg(cfg, str(tmp_path / "dispatcher.list")))
    log = tmp_path / "kamailio.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen([kamailio, "-f", str(tmp_path / "kamailio.cfg"), "-DD", "-E",
                                 "-Y", str(tmp_path), "-m", "64", "-M", "8"],
                                stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not options_ok(port):
            assert proc.poll() is None, f"kamailio exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"kamailio not ready:\n{log.read_text()}"
        yield Edge(port, proc, log, workers)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        for w in workers.values():
            if w.proc.poll() is None:
                assert w.stop() == 0, w.log_text()[-3000:]


def speed_dial(sipp: Path, tmp_path: Path, edge: Edge, caller: str,
               source_ip: str = "127.0.0.1") -> None:
    run_sipp(sipp, render("speed_dial_system_bye.xml", tmp_path, caller=caller,
                          bye_timeout_ms="20000"), edge.port, service="800101",
             source_ip=source_ip)


def handled_by(call_events: CallReader, caller: str) -> str:
    events = call_events.wait_for(caller, lambda ev: isinstance(ev[-1], CallCompleted))
    offered = events[0]
    assert isinstance(offered, CallOffered)
    return offered.media_node


def test_calls_through_the_edge_and_a_dead_worker_is_routed_around(
        edge: Edge, sipp: Path, tmp_path: Path, call_events: CallReader) -> None:
    # End to end through Kamailio; the worker's BYE goes back along the Record-Route.
    speed_dial(sipp, tmp_path, edge, "+4915112345701")
    first = handled_by(call_events, "+4915112345701")
    assert first in edge.workers
    # A carrier address that is not a trunk is refused by the edge itself.
    run_sipp(sipp, render("reject_403.xml", tmp_path, caller="+4915112345702"), edge.port,
             service="800100", source_ip="127.0.0.2")
    # The worker that took the first call dies; the next calls go to the other one.
    edge.workers[first].proc.kill()
    edge.workers[first].proc.wait(10)
    survivor = next(name for name in edge.workers if name != first)
    for caller in ("+4915112345703", "+4915112345704"):
        speed_dial(sipp, tmp_path, edge, caller)
        assert handled_by(call_events, caller) == survivor
    assert edge.proc.poll() is None
