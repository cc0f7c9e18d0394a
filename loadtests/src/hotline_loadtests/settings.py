"""The run's settings, from Locust's command line (``--hotline-*``) or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hotline_events.catalog import Catalog, default_catalog
from hotline_loadtests.callers.logic import DEMO_ROUTES
from hotline_loadtests.shapes.models import CallerMix, Shape, ShapeKind


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class RunSettings:
    kafka: str
    topic_prefix: str
    shape: Shape
    mix: CallerMix
    agents: int
    site: str
    report_dir: Path
    seed: int
    sip_edge: str = ""
    sip_routes: str = ""
    dialers: int = 1
    wrap_up_s: float = 5.0

    def shape_share(self, streams: int) -> Shape:
        """The shape one of ``streams`` arrival streams follows (its share of the rate)."""
        return replace(self.shape, base_rate=self.shape.base_rate / max(1, streams))

    @property
    def catalog(self) -> Catalog:
        base = default_catalog()
        return base.prefixed(self.topic_prefix) if self.topic_prefix else base


def add_arguments(parser: Any) -> None:
    """Locust's parser (configargparse): options also read ``HOTLINE_LOAD_*`` variables."""
    group = parser.add_argument_group("hotline", "Hotline load shape and platform")
    group.add_argument("--hotline-kafka", env_var="HOTLINE_KAFKA_SITE_A", default="",
                       help="bootstrap servers of the site's Kafka")
    group.add_argument("--hotline-topic-prefix", env_var="HOTLINE_TOPIC_PREFIX", default="")
    group.add_argument("--hotline-shape", env_var="HOTLINE_LOAD_SHAPE", default="steady",
                       choices=[k.value for k in ShapeKind])
    group.add_argument("--hotline-base-rate", env_var="HOTLINE_LOAD_BASE_RATE", type=float,
                       default=0.5, help="calls per second outside the peak")
    group.add_argument("--hotline-peak-factor", env_var="HOTLINE_LOAD_PEAK_FACTOR", type=float,
                       default=5.0)
    group.add_argument("--hotline-duration", env_var="HOTLINE_LOAD_DURATION", type=float,
                       default=300.0, help="seconds of arrivals")
    group.add_argument("--hotline-agents", env_var="HOTLINE_LOAD_AGENTS", type=int, default=20)
    group.add_argument("--hotline-tenant", env_var="HOTLINE_LOAD_TENANT", default="demo-bank")
    group.add_argument("--hotline-vip-share", env_var="HOTLINE_LOAD_VIP_SHARE", type=float,
                       default=0.1)
    group.add_argument("--hotline-patience", env_var="HOTLINE_LOAD_PATIENCE", type=float,
                       default=90.0, help="mean caller patience in queue, seconds")
    group.add_argument("--hotline-talk", env_var="HOTLINE_LOAD_TALK", type=float, default=60.0)
    group.add_argument("--hotline-site", env_var="HOTLINE_SITE", default="site-a")
    group.add_argument("--hotline-report-dir", env_var="HOTLINE_LOAD_REPORT_DIR",
                       default="loadtest-report")
    group.add_argument("--hotline-seed", env_var="HOTLINE_LOAD_SEED", type=int, default=1)
    group.add_argument("--hotline-sip-edge", env_var="HOTLINE_SIP_EDGE", default="",
                       help="host:port of the SIP edge the SIP callers dial")
    group.add_argument("--hotline-sip-routes", env_var="HOTLINE_LOAD_SIP_ROUTES",
                       default=DEMO_ROUTES,
                       help="queue=number:digits,... how a SIP caller reaches each queue")
    group.add_argument("--hotline-dialers", env_var="HOTLINE_LOAD_DIALERS", type=int, default=1,
                       help="SIP caller users (arrival streams) sharing the arrival rate")
    group.add_argument("--hotline-wrap-up", env_var="HOTLINE_LOAD_WRAP_UP", type=float,
                       default=5.0, help="agents' wrap-up seconds after each call (agent "
                       "users; the mean for the firehose's simulated agents)")


def from_options(options: Any) -> RunSettings:
    if not options.hotline_kafka:
        raise SettingsError("--hotline-kafka (or HOTLINE_KAFKA_SITE_A) is required: the "
                            "bootstrap servers of the platform's Kafka")
    for name in ("hotline_base_rate", "hotline_duration", "hotline_patience", "hotline_talk"):
        if getattr(options, name) <= 0:
            raise SettingsError(f"--{name.replace('_', '-')} must be positive")
    if not 0 <= options.hotline_vip_share <= 1:
        raise SettingsError("--hotline-vip-share must be between 0 and 1")
    if options.hotline_agents < 1:
        raise SettingsError("--hotline-agents must be at least 1")
    if options.hotline_dialers < 1:
        raise SettingsError("--hotline-dialers must be at least 1")
    if options.hotline_wrap_up < 0:
        raise SettingsError("--hotline-wrap-up must not be negative")
    shape = Shape(kind=ShapeKind(options.hotline_shape), base_rate=options.hotline_base_rate,
                  duration_s=options.hotline_duration, peak_factor=options.hotline_peak_factor,
                  surge_at_s=min(60.0, options.hotline_duration / 5),
                  rise_s=min(120.0, options.hotline_duration / 5),
                  decay_s=max(30.0, options.hotline_duration / 4))
    mix = CallerMix(tenant=options.hotline_tenant, vip_share=options.hotline_vip_share,
                    patience_mean_s=options.hotline_patience, talk_mean_s=options.hotline_talk,
                    wrap_up_mean_s=options.hotline_wrap_up)
    return RunSettings(kafka=options.hotline_kafka, topic_prefix=options.hotline_topic_prefix,
                       shape=shape, mix=mix, agents=options.hotline_agents,
                       site=options.hotline_site,
                       report_dir=Path(os.path.expanduser(options.hotline_report_dir)),
                       seed=options.hotline_seed, sip_edge=options.hotline_sip_edge,
                       sip_routes=options.hotline_sip_routes, dialers=options.hotline_dialers,
                       wrap_up_s=options.hotline_wrap_up)
