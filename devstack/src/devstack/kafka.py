"""Apache Kafka in KRaft mode: one combined broker+controller per site."""

from __future__ import annotations

import base64
import logging
import subprocess
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from devstack import artifacts
from devstack.java import java_command
from devstack.network import PortAllocator, tcp_open
from devstack.process import ManagedProcess, ServerError, wait_until
from devstack.settings import KAFKA_VERSION, runs_dir

log = logging.getLogger(__name__)

# librdkafka logs every refused connection; a health probe reports that itself.
_quiet = logging.getLogger("devstack.kafka.client")
_quiet.setLevel(logging.CRITICAL)

LOG4J_PROPERTIES = """\
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.reflections=ERROR
"""


# The broker's collector: ZGC, whose pauses stay under a millisecond. With G1 (even with
# kafka-run-class.sh's 20 ms pause target) young collections took 15-40 ms every few
# seconds under load on a 2-core machine, and the broker served nothing meanwhile: the
# tail of every latency the platform measures (benchmarks/streams_routing.py: the
# slowest 1 % of contacts waited 25-45 ms before the broker even appended them).
# ZGC collects concurrently and needs headroom for that: with 768 MB, brokers under the
# full test suite's load stalled allocations 32 times, up to 630 ms ("Allocation Stall"
# in gc.log), while the collector, short of CPU, caught up; with 2 GB, none. About
# 250 MB are live.
COLLECTOR = ("-XX:+UseZGC", "-XX:ZAllocationSpikeTolerance=4")
HEAP = "2g"
GC_LOG = "gc.log"  # next to kafka.log


def install() -> Path:
    """Kafka and MirrorMaker 2 jars (one Maven resolution serves both)."""
    return artifacts.maven_runtime("kafka", KAFKA_VERSION)


def new_cluster_id() -> str:
    # 16 random bytes, URL-safe base64 without padding; must not start with '-'.
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def server_properties(*, port: int, controller_port: int, log_dir: Path) -> str:
    """A single-node KRaft cluster tuned for fast local start and tests."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        # One broker: every internal topic has one replica.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "min.insync.replicas": "1",
        "default.replication.factor": "1",
        # Topics come from the event catalog, never from a typo in a producer.
        "auto.create.topics.enable": "false",
        # Consumers in tests join immediately instead of waiting 3 s for peers.
        "group.initial.rebalance.delay.ms": "0",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def admin(bootstrap: str) -> AdminClient:
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": _quiet}
    return AdminClient(config)


def probe(bootstrap: str, timeout: float = 5.0) -> int:
    """Number of live brokers; raises when the cluster does not answer."""
    metadata = admin(bootstrap).list_topics(timeout=timeout)
    return len(metadata.brokers)


def gc_log_serving(bootstrap: str) -> Path | None:
    """The collector log of the devstack Kafka on this machine that serves ``bootstrap``
    (a benchmark given ``--kafka`` knows only the address), if there is one."""
    listener = f"PLAINTEXT://{bootstrap}\n"
    for config in sorted(runs_dir().glob("*/kafka-*/server.properties"), reverse=True):
        if listener in config.read_text():
            log = config.parent / GC_LOG
            return log if log.exists() else None
    return None


def allocation_stalls(gc_log: Path, since: float) -> list[float]:
    """Milliseconds of each allocation stall logged after ``since`` (epoch seconds):
    broker threads waiting for the collector to free memory. Reads the ``time``
    decoration ``start`` gives the log."""
    stalls = []
    for line in gc_log.read_text().splitlines():
        if "Allocation Stall (" not in line:
            continue
        at = datetime.fromisoformat(line[1:line.index("]")]).timestamp()
        if at >= since:
            stalls.append(float(line.rsplit(" ", 1)[1].removesuffix("ms")))
    return stalls


@dataclass
class KafkaCluster:
    site: str
    bootstrap: str
    process: ManagedProcess | None = None  # None: an external cluster

    @property
    def name(self) -> str:
        return f"kafka {self.site} ({self.bootstrap})"

    @property
    def gc_log(self) -> Path | None:
        """The broker's collector log (None for an external cluster)."""
        return self.process.log_path.parent / GC_LOG if self.process is not None else None


    def check(self) -> None:
        if self.process is not None and not self.process.alive():
            raise self.process.failure("is not running")
        try:
            brokers = probe(self.bootstrap)
        except Exception as exc:
            raise ServerError(f"{self.name} is not answering: {exc}") from exc
        if brokers < 1:
            raise ServerError(f"{self.name} reports no live broker")

    def wait_ready(self, timeout: float = 90.0) -> None:
        host, port = self.bootstrap.rsplit(":", 1)
        wait_until(lambda: tcp_open(host, int(port)), timeout=timeout, proc=self.process,
                   what=f"listening on {self.bootstrap}")
        wait_until(lambda: probe(self.bootstrap, 2.0) >= 1, timeout=timeout, proc=self.process,
                   what="serving metadata")

    def processes(self) -> list[ManagedProcess]:
        return [self.process] if self.process else []


def start(site: str, run_dir: Path, ports: PortAllocator) -> KafkaCluster:
    """Format storage and spawn the broker; call wait_ready() afterwards."""
    lib = install()
    home = run_dir / f"kafka-{site}"
    home.mkdir(parents=True, exist_ok=True)
    port, controller_port = ports.take(), ports.take()
    config = home / "server.properties"
    config.write_text(
        server_properties(port=port, controller_port=controller_port, log_dir=home / "data")
    )
    log4j = home / "log4j.properties"
    log4j.write_text(LOG4J_PROPERTIES)
    props = {"log4j.configuration": log4j.as_uri(), "kafka.logs.dir": str(home / "logs")}
    format_cmd = java_command(lib=lib, main="kafka.tools.StorageTool", heap="128m",
                              tmp=home / "tmp", props=props,
                              args=["format", "-t", new_cluster_id(), "-c", str(config)])
    formatted = subprocess.run(
        format_cmd,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False, timeout=120,
    )
    if formatted.returncode != 0:
        raise ServerError(
            f"kafka {site}: formatting KRaft storage in {home / 'data'} failed:\n"
            f"{formatted.stdout.decode(errors='replace')[-4000:]}"
        )
    process = ManagedProcess(
        name=f"kafka {site}",
        argv=java_command(lib=lib, main="kafka.Kafka", heap=HEAP, tmp=home / "tmp",
                          props=props, args=[str(config)], collector=COLLECTOR,
                          # "Allocation Stall" lines here mean the heap is too small
                          extra=[f"-Xlog:gc:file={home / GC_LOG}:time,uptime"
                                 ":filecount=2,filesize=10M"]),
        log_path=home / "kafka.log",
    )
    process.start()
    return KafkaCluster(site=site, bootstrap=f"127.0.0.1:{port}", process=process)
