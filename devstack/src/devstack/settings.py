"""Pinned versions, where things are cached, and the environment overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# One version of each server, pinned; bump here and in the matching pom/go.mod.
KAFKA_VERSION = "3.9.2"
CASSANDRA_VERSION = "5.0.9"
KUBERNETES_VERSION = "v1.33.13"
ETCD_VERSION = "v3.5.35"
HELM_VERSION = "v3.19.0"

# Debian packages the platform needs, by the command each one provides.
DEBIAN_PACKAGES: dict[str, str] = {
    "sipp": "sip-tester",
    "kamailio": "kamailio",
    "espeak-ng": "espeak-ng",
    "sox": "sox",
    "openssl": "openssl",
}

# Where the wrapper projects (Maven poms, Go wrapper modules) live in the repo.
PROJECT_DIR = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """Downloads and builds, per version; outside the repo so clones share them."""
    base = os.environ.get("HOTLINE_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hotline"
    )
    return Path(base)


def runs_dir() -> Path:
    """Each stack run gets a directory here for data, configs and logs."""
    return Path(os.environ.get("HOTLINE_RUNS_DIR") or cache_dir() / "runs")


@dataclass(frozen=True)
class ExternalEndpoints:
    """Servers an operator points devstack at instead of starting them.

    Set any of these and the same tests run against that real server; devstack then
    only health-checks it.
    """

    kafka_site_a: str | None
    kafka_site_b: str | None
    cassandra_dc_a: str | None
    cassandra_dc_b: str | None
    kubeconfig: str | None
    mirrormaker_external: bool
    witness_etcd: str | None = None

    @classmethod
    def from_environ(cls, env: dict[str, str] | None = None) -> ExternalEndpoints:
        e = dict(os.environ) if env is None else env

        def get(name: str) -> str | None:
            value = e.get(name, "").strip()
            return value or None

        return cls(
            kafka_site_a=get("HOTLINE_KAFKA_SITE_A"),
            kafka_site_b=get("HOTLINE_KAFKA_SITE_B"),
            cassandra_dc_a=get("HOTLINE_CASSANDRA_DC_A"),
            cassandra_dc_b=get("HOTLINE_CASSANDRA_DC_B"),
            kubeconfig=get("HOTLINE_KUBECONFIG"),
            mirrormaker_external=get("HOTLINE_MIRRORMAKER") == "external",
            witness_etcd=get("HOTLINE_WITNESS_ETCD"),
        )

    def to_environ(self) -> dict[str, str]:
        """The variables that make another process (or devstack) use these servers."""
        env = {
            "HOTLINE_KAFKA_SITE_A": self.kafka_site_a,
            "HOTLINE_KAFKA_SITE_B": self.kafka_site_b,
            "HOTLINE_CASSANDRA_DC_A": self.cassandra_dc_a,
            "HOTLINE_CASSANDRA_DC_B": self.cassandra_dc_b,
            "HOTLINE_KUBECONFIG": self.kubeconfig,
            "HOTLINE_MIRRORMAKER": "external" if self.mirrormaker_external else None,
            "HOTLINE_WITNESS_ETCD": self.witness_etcd,
        }
        return {k: v for k, v in env.items() if v}


ENV_OVERRIDES = {
    "HOTLINE_KAFKA_SITE_A": "bootstrap servers of an existing Kafka for site-a",
    "HOTLINE_KAFKA_SITE_B": "bootstrap servers of an existing Kafka for site-b",
    "HOTLINE_MIRRORMAKER": "'external' when MirrorMaker 2 already mirrors those two",
    "HOTLINE_CASSANDRA_DC_A": "host:port of a Cassandra node in datacenter dc-a",
    "HOTLINE_CASSANDRA_DC_B": "host:port of a Cassandra node in datacenter dc-b",
    "HOTLINE_KUBECONFIG": "kubeconfig of an existing API server (admin rights)",
    "HOTLINE_WITNESS_ETCD": "http://host:port of an etcd for the failover witness",
    "HOTLINE_CACHE_DIR": "where downloads and builds are cached (default ~/.cache/hotline)",
    "HOTLINE_RUNS_DIR": "where each run keeps data and logs (default <cache>/runs)",
}
