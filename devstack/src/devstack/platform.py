"""Hotline itself on a running stack: the SIP edge, media nodes, streams and traffic.

``devstack up --platform`` (what ``./hotline run`` does) starts, after the servers:

* a media-node pool (``python -m hotline_media_nodes.pool``) with its own Kamailio
  edge, on the demo tenant's IVR flow (``media-nodes/flows/demo-bank.yaml``);
* a stream worker (``python -m hotline_streams worker``) with the demo tenant's queues
  (``streams/config-examples/``);
* the callback scheduler (``python -m hotline_streams.callbacks run``) on Cassandra
  dc-a with the demo tenant's callback policy, after creating its keyspace;
* the agents' phones (one SIPp UAS the media nodes ring for every agent);
* traffic: the load tests' steady shape in Locust (``locustfile_calls.py``, web UI
  started at once): SIP callers placing real calls through the edge with SIPp, and
  agents logging in, going ready and wrapping up on the streams' agent API.

Every process is a ``ManagedProcess``: it dies with devstack and is stopped with it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from devstack.network import PortAllocator
from devstack.process import ManagedProcess, ServerError, wait_until
from hotline_events.catalog import default_catalog
from hotline_events.models.agents import AgentReady
from hotline_events.models.calls import CallOffered
from hotline_events.models.routing import RoutingDecision
from hotline_events.models.sites import MediaNodeHeartbeat

REPO = Path(__file__).resolve().parents[3]
FLOW = REPO / "media-nodes" / "flows" / "demo-bank.yaml"
TENANTS = REPO / "streams" / "config-examples"
LOCUSTFILE = REPO / "loadtests" / "src" / "hotline_loadtests" / "locustfile_calls.py"
TRAFFIC_SECONDS = 7 * 24 * 3600  # the steady shape lasts as long as the run (Ctrl-C)
TENANT = "demo-bank"
TOKEN_KEY_ENV = "HOTLINE_CALLER_TOKEN_KEY"
CASSANDRA_ENV = "HOTLINE_CASSANDRA_DC_A"
# The demo tenant's callback policy (docs/callbacks.md): dialled any time of day, so a
# demo at night still shows callbacks; figures on the SLA topic per 15 minutes.
CALLBACK_POLICIES = f"""\
{TENANT}:
  time_zone: UTC
  max_attempts: 3
  retry_backoff_s: 60
  default_window_s: 3600
  auto_callback_surge_level: 3
  claim_ttl_s: 30
  dial_timeout_s: 90
  figures_interval_s: 900
"""


def _free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _stack_variable(run_dir: Path, name: str) -> str | None:
    """A variable of the stack's ``env.sh`` (what clients source), e.g. Cassandra dc-a."""
    env_file = run_dir / "env.sh"
    if not env_file.exists():
        return None
    for line in env_file.read_text().splitlines():
        if line.startswith(f"export {name}="):
            return line.split("=", 1)[1].strip("'\"") or None
    return None


def _http_ok(url: str, want_json_key: str | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if want_json_key is None:
                return int(response.status) == 200
            return bool(json.load(response).get(want_json_key))
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Platform:
    """The platform's processes on one stack (single site, site-a)."""

    run_dir: Path
    bootstrap: str
    workers: int = 3  # 2 callers each (an agent leg kept free)
    calls_per_second: float = 0.2  # the steady shape's rate: one new caller every 5 s
    agents: int = 4
    talk_seconds: float = 20.0  # mean talk time of the demo callers
    traffic: bool = True  # Locust's steady shape; a load test brings its own
    locust_port: int = 0
    ports: PortAllocator = field(default_factory=PortAllocator)
    processes: list[ManagedProcess] = field(default_factory=list)
    edge_port: int = 0
    health_port: int = 0
    streams_port: int = 0
    phone_port: int = 0
    callbacks_port: int = 0
    cassandra_dc_a: str | None = None  # host:port; default: the stack's env.sh
    client_env: dict[str, str] = field(default_factory=dict)  # phones' and Locust's
    phone_host: str = "127.0.0.1"  # where the agents' SIPp phone listens

    def _start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> \
            ManagedProcess:
        proc = ManagedProcess(name=name, argv=argv, log_path=self.run_dir / "platform" /
                              f"{name.replace(' ', '-')}.log", env=env)
        proc.start()
        self.processes.append(proc)
        return proc

    def up(self) -> None:
        home = self.run_dir / "platform"
        home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HOTLINE_KAFKA_SITE_A": self.bootstrap}
        # One key per run unless the operator set one: caller tokens join within a run.
        env.setdefault(TOKEN_KEY_ENV, f"hotline-run-{uuid.uuid4().hex}")
        self.client_env = env
        prompts = subprocess.run(
            [sys.executable, "-m", "hotline_media_nodes.cli", "prompts", "install", str(FLOW)],
            env=env, capture_output=True, text=True, timeout=300, check=False)
        if prompts.returncode != 0:
            raise ServerError(f"installing the demo prompts failed:\n{prompts.stderr[-3000:]}")

        self.edge_port, self.health_port = _free_udp_port(), self.ports.take()
        self.phone_port, self.streams_port = _free_udp_port(), self.ports.take()
        pool = self._start("media-node pool", [
            sys.executable, "-m", "hotline_media_nodes.pool", "--workers", str(self.workers),
            "--flow", str(FLOW), "--allow", "127.0.0.1/32", "--kafka", self.bootstrap,
            "--media-node", "mn-a-0", "--site", "site-a",
            "--edge-listen", f"127.0.0.1:{self.edge_port}",
            "--health-port", str(self.health_port), "--workdir", str(home / "media-node"),
            "--drain-seconds", "10",
            # The agents' phones: every agent id rings the one SIPp UAS.
            f"--worker-arg=--agent-uri-template=sip:{{agent_id}}@127.0.0.1:{self.phone_port}"],
            env)
        streams_env = {**env, "HOTLINE_TENANTS_DIR": str(TENANTS),
                       "HOTLINE_STREAMS_APP_ID": f"hotline-streams-{uuid.uuid4().hex[:6]}",
                       "HOTLINE_STREAMS_WEB_PORT": str(self.streams_port),
                       "HOTLINE_STREAMS_DATA_DIR": str(home / "streams-data")}
        streams = self._start("stream worker", [sys.executable, "-m", "hotline_streams",
                                                "worker", "-l", "info"], streams_env)
        wait_until(lambda: _http_ok(f"http://127.0.0.1:{self.health_port}/readyz"),
                   timeout=180, proc=pool, what="ready (a worker in the edge's set)")
        callbacks = self._start_callbacks(home, env)
        wait_until(lambda: _http_ok(f"http://127.0.0.1:{self.streams_port}/ready", "ready"),
                   timeout=240, proc=streams, what="ready (partitions assigned, tables recovered)")
        wait_until(lambda: _http_ok(f"http://127.0.0.1:{self.callbacks_port}/readyz"),
                   timeout=120, proc=callbacks, what="ready (Kafka and Cassandra reached, "
                   "a scheduling tick done)")
        self.start_clients()

    def start_clients(self) -> None:
        """The agents' phones and, unless ``traffic`` is off, Locust's steady shape."""
        sipp = shutil.which("sipp")
        if sipp is None:
            raise ServerError("sipp is missing (Debian package sip-tester): it plays the "
                              "callers and the agents' phones")
        self._start("agent phones", [sipp, "-sn", "uas", "-i", self.phone_host,
                                     "-p", str(self.phone_port), "-nostdin",
                                     "-mp", str(_free_udp_port(self.phone_host))])
        if not self.traffic:
            return
        env = self.client_env
        self.locust_port = self.ports.take()
        self._start("traffic (Locust)", [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", self.streams_url,
            "--autostart", "--web-host", "127.0.0.1", "--web-port", str(self.locust_port),
            "--users", str(self.agents + 1), "--spawn-rate", str(self.agents + 1),
            "--hotline-kafka", self.bootstrap, "--hotline-sip-edge", self.edge,
            "--hotline-tenant", TENANT, "--hotline-shape", "steady",
            "--hotline-base-rate", f"{self.calls_per_second:g}",
            "--hotline-duration", str(TRAFFIC_SECONDS), "--hotline-agents", str(self.agents),
            "--hotline-dialers", "1", "--hotline-talk", f"{self.talk_seconds:g}",
            "--hotline-patience", "90", "--hotline-wrap-up", "5",
            "--hotline-report-dir", str(self.run_dir / "platform" / "loadtest-report")], env)

    def _start_callbacks(self, home: Path, env: dict[str, str]) -> ManagedProcess:
        """Create the callbacks keyspace on Cassandra dc-a (idempotent), then start the
        scheduler with the demo policy; its /readyz is waited on by ``up``."""
        cassandra = self.cassandra_dc_a or _stack_variable(self.run_dir, CASSANDRA_ENV)
        if cassandra is None:
            raise ServerError(f"the callback scheduler needs Cassandra dc-a: {CASSANDRA_ENV} "
                              f"is not in {self.run_dir / 'env.sh'} (a profile without "
                              "Cassandra?)")
        where = ["--cassandra", cassandra, "--datacenter", "dc-a",
                 "--keyspace", "hotline_callbacks"]
        schema = subprocess.run(
            [sys.executable, "-m", "hotline_streams.callbacks", "schema", *where],
            env=env, capture_output=True, text=True, timeout=300, check=False)
        if schema.returncode != 0:
            raise ServerError("creating the callbacks keyspace on Cassandra dc-a "
                              f"({cassandra}) failed:\n{schema.stderr[-3000:]}")
        policies = home / "callback-policies.yaml"
        policies.write_text(CALLBACK_POLICIES)
        self.callbacks_port = self.ports.take()
        return self._start("callback scheduler", [
            sys.executable, "-m", "hotline_streams.callbacks", "run", *where,
            "--kafka", self.bootstrap, "--site", "site-a", "--instance", "callbacks-a-0",
            "--policies", str(policies), "--http", f"127.0.0.1:{self.callbacks_port}"], env)

    @property
    def edge(self) -> str:
        return f"127.0.0.1:{self.edge_port}"

    @property
    def streams_url(self) -> str:
        return f"http://127.0.0.1:{self.streams_port}"

    def health(self) -> dict[str, str | None]:
        return {p.name: None if p.alive() else p.exit_description() for p in self.processes}

    def describe(self) -> str:
        catalog = default_catalog()
        topics = ", ".join(catalog.topic_for_type(t.TYPE).name for t in
                           (CallOffered, RoutingDecision, AgentReady, MediaNodeHeartbeat))
        rows = ["Hotline is running (tenant demo-bank, site-a):",
                f"  SIP edge (Kamailio): sip:800100@127.0.0.1:{self.edge_port} (IVR), "
                f"sip:800101@… (balance); trunks allowed: 127.0.0.1/32",
                f"  media node mn-a-0: {self.workers} pjsua2 workers; "
                f"http://127.0.0.1:{self.health_port}/metrics /readyz /healthz",
                f"  streams: http://127.0.0.1:{self.streams_port}/tenants/{TENANT}/routing "
                f"(/ready)",
                f"  callbacks: http://127.0.0.1:{self.callbacks_port}/readyz /metrics "
                f"(Cassandra dc-a keyspace hotline_callbacks)",
                *([f"  traffic: Locust, steady shape: SIP callers at "
                   f"{self.calls_per_second:g} calls/s through the edge, {self.agents} agents "
                   f"on the agent API, phones on udp 127.0.0.1:{self.phone_port}; live "
                   f"statistics http://127.0.0.1:{self.locust_port}, report on Ctrl-C in "
                   f"{self.run_dir / 'platform' / 'loadtest-report'}"] if self.traffic else []),
                f"  Kafka topics: {topics}",
                f"  logs: {self.run_dir / 'platform'}"]
        rows += [f"  {p.name}: pid {p.pid}, log {p.log_path}" for p in self.processes]
        return "\n".join(rows)

    def down(self) -> None:
        # Traffic first, then the node (it drains), then the streams.
        for proc in reversed(self.processes):
            proc.terminate()
        for proc in reversed(self.processes):
            proc.wait_stopped(grace=30)


def start_for_load_test(run_dir: Path, bootstrap: str, cassandra_dc_a: str,
                        workers: int = 3) -> Platform:
    """The platform without its own traffic, for ``./hotline loadtest``: the edge, the
    media-node pool (``workers`` pjsua2 processes), the stream worker, the callback
    scheduler and the agents' SIPp phone; Locust brings the callers and the agents.
    Stopped with ``down()``."""
    platform = Platform(run_dir, bootstrap, workers=workers, traffic=False,
                        cassandra_dc_a=cassandra_dc_a)
    try:
        platform.up()
    except BaseException:
        platform.down()
        raise
    return platform
