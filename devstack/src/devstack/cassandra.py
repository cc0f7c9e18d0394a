"""Apache Cassandra: one node, or one node per site datacenter (dc-a, dc-b).

Each node gets its own loopback address (127.X.Y.2, .3) because nodes of one
cluster share the storage port; the gossiping snitch reads the node's datacenter
from its rackdc file, as in production.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import yaml

from devstack import artifacts
from devstack.java import java_command
from devstack.network import tcp_open
from devstack.process import ManagedProcess, ServerError, wait_until
from devstack.settings import CASSANDRA_VERSION

CLUSTER_NAME = "hotline-devstack"
STORAGE_PORT = 7000
NATIVE_PORT = 9042
# One token per node, spread over the ring, so nodes never pick colliding tokens.
_TOKENS = ["-9223372036854775808", "0", "-4611686018427387904", "4611686018427387904"]

# From Cassandra 5.0's conf/jvm17-server.options: what the server reaches into.
JVM17_OPTIONS = [
    "-Djdk.attach.allowAttachSelf=true",
    "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports=java.sql/java.sql=ALL-UNNAMED",
    "--add-exports=java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.math=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
]

LOGBACK_XML = """\
<configuration>
  <appender name="STDOUT" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <logger name="org.apache.cassandra" level="INFO"/>
  <logger name="com.datastax" level="WARN"/>
  <root level="WARN"><appender-ref ref="STDOUT"/></root>
</configuration>
"""


def install() -> Path:
    return artifacts.maven_runtime("cassandra", CASSANDRA_VERSION)


def node_config(*, address: str, seeds: list[str], index: int) -> dict[str, object]:
    """cassandra.yaml for one node; directories come from cassandra.storagedir."""
    return {
        "cluster_name": CLUSTER_NAME,
        "num_tokens": 1,
        "initial_token": _TOKENS[index],
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        "endpoint_snitch": "GossipingPropertyFileSnitch",
        "seed_provider": [{
            "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
            "parameters": [{"seeds": ",".join(f"{s}:{STORAGE_PORT}" for s in seeds)}],
        }],
        "listen_address": address,
        "rpc_address": address,
        "storage_port": STORAGE_PORT,
        "native_transport_port": NATIVE_PORT,
        "start_native_transport": True,
        "commitlog_sync": "periodic",
        "commitlog_sync_period": "10000ms",
        # Every node is a seed and joins with its fixed token: no bootstrap streaming.
        "auto_bootstrap": False,
        "auto_snapshot": False,
        "concurrent_compactors": 1,
        "authenticator": "AllowAllAuthenticator",
        "authorizer": "AllowAllAuthorizer",
    }


def rackdc_properties(datacenter: str) -> str:
    return f"dc={datacenter}\nrack=rack1\n"


def _query(address: str, port: int, cql: str) -> list[tuple[object, ...]]:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import WhiteListRoundRobinPolicy

    profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([address]),
                               request_timeout=5)
    cluster = Cluster([address], port=port, connect_timeout=3, protocol_version=5,
                      execution_profiles={EXEC_PROFILE_DEFAULT: profile})
    try:
        session = cluster.connect()
        return [tuple(row) for row in session.execute(cql)]
    finally:
        cluster.shutdown()


@dataclass
class CassandraNode:
    datacenter: str
    address: str
    port: int = NATIVE_PORT
    process: ManagedProcess | None = None  # None: an external node

    @property
    def name(self) -> str:
        return f"cassandra {self.datacenter} ({self.address}:{self.port})"

    @property
    def contact_point(self) -> str:
        return f"{self.address}:{self.port}"

    def local_datacenter(self) -> str:
        rows = _query(self.address, self.port, "SELECT data_center FROM system.local")
        return str(rows[0][0])

    def peer_datacenters(self) -> set[str]:
        rows = _query(self.address, self.port, "SELECT data_center FROM system.peers_v2")
        return {str(r[0]) for r in rows}

    def check(self) -> None:
        if self.process is not None and not self.process.alive():
            raise self.process.failure("is not running")
        try:
            dc = self.local_datacenter()
        except Exception as exc:
            raise ServerError(f"{self.name} is not answering CQL: {exc}") from exc
        if dc != self.datacenter:
            raise ServerError(f"{self.name} says it is in datacenter {dc!r}")

    def wait_ready(self, timeout: float = 180.0) -> None:
        wait_until(lambda: tcp_open(self.address, self.port), timeout=timeout,
                   proc=self.process, what=f"listening for CQL on {self.contact_point}",
                   interval=0.5)
        wait_until(lambda: self.local_datacenter() == self.datacenter, timeout=timeout,
                   proc=self.process, what="answering CQL")

    def knows_keyspace(self, keyspace: str) -> bool:
        """Whether this node serves ``keyspace`` (not only lists it in system_schema)."""
        try:  # a table that is not there: the error says whether the keyspace is
            _query(self.address, self.port, f"SELECT * FROM {keyspace}.no_such_table")
        except Exception as exc:
            return f"keyspace {keyspace} does not exist" not in str(exc)
        return True

    def renew_keyspace(self, keyspace: str) -> None:
        """Make every node reload ``keyspace``'s definition: a real schema change, made
        here, and undone. Why: with ``unsafesystem`` (below) a node killed shortly after
        the keyspace was created may come back without it in memory ("keyspace … does
        not exist" while system_schema lists it), until a schema change from another
        node arrives."""
        for durable in ("false", "true"):
            _query(self.address, self.port,
                   f"ALTER KEYSPACE {keyspace} WITH durable_writes = {durable}")

    def wait_sees(self, datacenters: set[str], timeout: float = 120.0) -> None:
        """Wait until gossip has told this node about nodes in ``datacenters``."""
        wait_until(lambda: datacenters <= self.peer_datacenters(), timeout=timeout,
                   proc=self.process, what=f"seeing peers in {sorted(datacenters)}")

    def processes(self) -> list[ManagedProcess]:
        return [self.process] if self.process else []


def start_node(*, datacenter: str, address: str, seeds: list[str], index: int,
               run_dir: Path) -> CassandraNode:
    lib = install()
    home = run_dir / f"cassandra-{datacenter}"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "cassandra.yaml"
    config.write_text(yaml.safe_dump(node_config(address=address, seeds=seeds, index=index)))
    rackdc = home / "cassandra-rackdc.properties"
    rackdc.write_text(rackdc_properties(datacenter))
    logback = home / "logback.xml"
    logback.write_text(LOGBACK_XML)
    jamm = sorted(glob.glob(str(lib / "jamm-*.jar")))
    if not jamm:
        raise ServerError(f"cassandra {datacenter}: no jamm agent jar in {lib}; reinstall it")
    props = {
        "cassandra-foreground": "yes",
        "cassandra.config": config.as_uri(),
        "cassandra-rackdc.properties": rackdc.as_uri(),
        "cassandra.storagedir": str(home / "data"),
        "cassandra.logdir": str(home / "logs"),
        "logback.configurationFile": logback.as_uri(),
        # Local start-up in seconds rather than the production minute.
        "cassandra.skip_wait_for_gossip_to_settle": "0",
        "cassandra.superuser_setup_delay_ms": "0",
        "cassandra.ring_delay_ms": "1000",
        "cassandra.unsafesystem": "true",
        "java.net.preferIPv4Stack": "true",
        "chronicle.analytics.disable": "true",
        "io.netty.tryReflectionSetAccessible": "true",
    }
    process = ManagedProcess(
        name=f"cassandra {datacenter}",
        argv=java_command(lib=lib, main="org.apache.cassandra.service.CassandraDaemon",
                          heap="1g", tmp=home / "tmp", props=props,
                          extra=[f"-javaagent:{jamm[0]}", "-Xss512k", *JVM17_OPTIONS]),
        log_path=home / "cassandra.log",
    )
    process.start()
    return CassandraNode(datacenter=datacenter, address=address, process=process)
