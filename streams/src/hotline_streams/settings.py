"""The stream worker's settings, from the environment (one place, with defaults)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StreamSettings:
    bootstrap: str  # HOTLINE_KAFKA_BOOTSTRAP (a site's pods) or HOTLINE_KAFKA_SITE_A (devstack)
    app_id: str = "hotline-streams"
    site: str = "site-a"
    topic_prefix: str = ""  # isolates a test's topics (Catalog.prefixed)
    tenants_dir: Path | None = None  # one YAML file per tenant
    sla_grace_s: float = 3600.0  # late outcomes correct a closed interval this long
    web_port: int = 6066
    web_host: str = "127.0.0.1"  # HOTLINE_STREAMS_WEB_HOST: 0.0.0.0 in a pod
    # Where the other workers reach this one's pages (a tenant's pages are answered by
    # the worker that holds the tenant; the others forward to it).
    advertised_url: str = ""
    data_dir: Path = Path("/tmp/hotline-streams")
    # at_least_once: faust-streaming's exactly_once processed nothing against Kafka 3.9
    # here; replays are made harmless by event-id dedupe and write order instead.
    processing_guarantee: str = "at_least_once"
    tick_s: float = 1.0  # how often time passes for routing and SLA without events
    session_timeout_s: float = 6.0  # Kafka's group.min.session.timeout.ms; Faust's default is 60 s
    # HOTLINE_STREAMS_CONSUMER_IN_LOOP=1: Kafka's consumer on the worker's loop; why it
    # is off by default: kafka_consumer.py
    consumer_in_loop: bool = False
    # HOTLINE_PEER_SITES (comma-separated): their agents are followed on the mirrored
    # topics, restored here on reconnect and logged out here once they log in there.
    peer_sites: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StreamSettings:
        e = dict(os.environ if env is None else env)
        tenants = e.get("HOTLINE_TENANTS_DIR")
        app_id = e.get("HOTLINE_STREAMS_APP_ID", "hotline-streams")
        return cls(
            # The operator's Deployments name this site's Kafka HOTLINE_KAFKA_BOOTSTRAP;
            # devstack prints HOTLINE_KAFKA_SITE_A for a local run.
            bootstrap=e.get("HOTLINE_KAFKA_BOOTSTRAP") or e.get("HOTLINE_KAFKA_SITE_A",
                                                                "127.0.0.1:9092"),
            app_id=app_id,
            site=e.get("HOTLINE_SITE", "site-a"),
            topic_prefix=e.get("HOTLINE_TOPIC_PREFIX", ""),
            tenants_dir=Path(tenants) if tenants else None,
            sla_grace_s=float(e.get("HOTLINE_SLA_GRACE_S", "3600")),
            tick_s=float(e.get("HOTLINE_STREAMS_TICK_S", "1.0")),
            web_port=int(e.get("HOTLINE_STREAMS_WEB_PORT", "6066")),
            web_host=e.get("HOTLINE_STREAMS_WEB_HOST", "127.0.0.1"),
            advertised_url=e.get("HOTLINE_STREAMS_ADVERTISED_URL", ""),
            processing_guarantee=e.get("HOTLINE_STREAMS_GUARANTEE", "at_least_once"),
            data_dir=Path(e.get("HOTLINE_STREAMS_DATA_DIR", f"/tmp/hotline-streams/{app_id}")),
            consumer_in_loop=e.get("HOTLINE_STREAMS_CONSUMER_IN_LOOP", "") == "1",
            peer_sites=tuple(p.strip() for p in e.get("HOTLINE_PEER_SITES", "").split(",")
                             if p.strip()),
        )

    @property
    def canonical_url(self) -> str:
        """This worker's pages as the other workers reach them."""
        if self.advertised_url:
            return self.advertised_url
        host = socket.gethostname() if self.web_host in ("", "0.0.0.0") else self.web_host
        return f"http://{host}:{self.web_port}"
