"""MirrorMaker 2 in dedicated mode, mirroring every site to every other site.

Replicated topics carry the source site as prefix (``site-a.cc.call.events`` on
site-b), checkpoints are emitted and consumer-group offsets synced, so a consumer
that moves sites resumes near where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devstack import kafka
from devstack.java import java_command
from devstack.process import ManagedProcess, ServerError, wait_until

HEARTBEATS_TOPIC = "heartbeats"


def mm2_properties(bootstraps: dict[str, str]) -> str:
    """Both directions between the given sites, tuned for seconds, not minutes.

    MM2's defaults notice new topics and groups every 10 minutes, checkpoint every
    minute and sync offsets only every 100 records; the failover target is well
    under 30 s, so all of these are brought down to about a second.
    """
    sites = sorted(bootstraps)
    lines = [f"clusters={','.join(sites)}"]
    lines += [f"{site}.bootstrap.servers={bootstraps[site]}" for site in sites]
    for source in sites:
        for target in sites:
            if source != target:
                lines.append(f"{source}->{target}.enabled=true")
    settings = {
        "topics": ".*",
        "groups": ".*",
        "sync.group.offsets.enabled": "true",
        "sync.group.offsets.interval.seconds": "1",
        "emit.checkpoints.enabled": "true",
        "emit.checkpoints.interval.seconds": "1",
        "emit.heartbeats.interval.seconds": "1",
        "refresh.topics.interval.seconds": "2",
        "refresh.groups.interval.seconds": "2",
        # Exact offset translation at test volumes: a sync for every record.
        "offset.lag.max": "0",
        "tasks.max": "2",
        # One broker per site: every topic MM2 creates has one replica.
        "replication.factor": "1",
        "checkpoints.topic.replication.factor": "1",
        "heartbeats.topic.replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
        "config.storage.replication.factor": "1",
        # A flow's Connect worker coordinates through its target cluster; when that
        # cluster comes back after an outage, reassign the lost tasks at once instead
        # of waiting out the default 5-minute delay for a worker that may return.
        "scheduled.rebalance.max.delay.ms": "0",
    }
    lines += [f"{k}={v}" for k, v in settings.items()]
    return "\n".join(lines) + "\n"


def remote_topic(source_site: str, topic: str) -> str:
    """The name a topic of ``source_site`` has on the other sites."""
    return f"{source_site}.{topic}"


def mirroring(bootstraps: dict[str, str]) -> bool:
    """True when every site sees every other site's MM2 heartbeats topic."""
    for target, bootstrap in bootstraps.items():
        topics = kafka.admin(bootstrap).list_topics(timeout=3).topics
        for source in bootstraps:
            if source != target and remote_topic(source, HEARTBEATS_TOPIC) not in topics:
                return False
    return True


@dataclass
class MirrorMaker:
    bootstraps: dict[str, str]
    process: ManagedProcess | None = None  # None: run by someone else

    @property
    def name(self) -> str:
        return "mirrormaker2 " + " <-> ".join(sorted(self.bootstraps))

    def check(self) -> None:
        if self.process is not None and not self.process.alive():
            raise self.process.failure("is not running")
        try:
            ok = mirroring(self.bootstraps)
        except Exception as exc:
            raise ServerError(f"{self.name}: cannot read topics to check mirroring: {exc}") from exc
        if not ok:
            raise ServerError(f"{self.name}: heartbeats are not mirrored between the sites")

    def wait_ready(self, timeout: float = 120.0) -> None:
        wait_until(lambda: mirroring(self.bootstraps), timeout=timeout, proc=self.process,
                   what="mirroring heartbeats both ways")

    def processes(self) -> list[ManagedProcess]:
        return [self.process] if self.process else []


def start(clusters: list[kafka.KafkaCluster], run_dir: Path) -> MirrorMaker:
    lib = kafka.install()
    home = run_dir / "mirrormaker2"
    home.mkdir(parents=True, exist_ok=True)
    bootstraps = {c.site: c.bootstrap for c in clusters}
    config = home / "mm2.properties"
    config.write_text(mm2_properties(bootstraps))
    log4j = home / "log4j.properties"
    log4j.write_text(kafka.LOG4J_PROPERTIES + "log4j.logger.org.apache.kafka.connect=WARN\n"
                     "log4j.logger.org.apache.kafka.connect.mirror=INFO\n")
    process = ManagedProcess(
        name="mirrormaker2",
        argv=java_command(lib=lib, main="org.apache.kafka.connect.mirror.MirrorMaker",
                          heap="384m", tmp=home / "tmp",
                          props={"log4j.configuration": log4j.as_uri()}, args=[str(config)]),
        log_path=home / "mirrormaker2.log",
    )
    process.start()
    return MirrorMaker(bootstraps=bootstraps, process=process)
