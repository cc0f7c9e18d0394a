"""``python -m hotline_streams.interval_adoption --kafka HOST:PORT --site site-a --peer site-b``

Runs beside the SLA stream of a site: shadows the peer's intervals from its mirrored
call topic and finishes them after the operator's SiteAdoptionRequested.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from hotline_events.catalog import default_catalog
from hotline_events.envelope import source
from hotline_events.producer import EventProducer
from hotline_streams.config.loader import load_dir
from hotline_streams.config.models import TenantConfig
from hotline_streams.interval_adoption.wiring import Adopter, AdoptionSettings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hotline_streams.interval_adoption")
    p.add_argument("--kafka", required=True, help="bootstrap servers of this site's Kafka")
    p.add_argument("--site", required=True, help="this site (the adopter)")
    p.add_argument("--peer", required=True, help="the peer site whose intervals to shadow")
    p.add_argument("--tenants-dir", type=Path, default=None,
                   help="tenant configs (as the SLA stream's HOTLINE_TENANTS_DIR)")
    p.add_argument("--topic-prefix", default="", help="prefix of every catalog topic")
    p.add_argument("--grace-seconds", type=float, default=3600.0)
    p.add_argument("--lookback-seconds", type=float, default=1800.0)
    p.add_argument("--tick-seconds", type=float, default=1.0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    configs = load_dir(args.tenants_dir) if args.tenants_dir else {}

    def config_for(tenant: str) -> TenantConfig:
        return configs.get(tenant) or TenantConfig(tenant=tenant)

    catalog = default_catalog()
    if args.topic_prefix:
        catalog = catalog.prefixed(args.topic_prefix)
    producer = EventProducer(args.kafka, source(args.site, "interval-adoption", args.peer),
                             catalog=catalog)
    settings = AdoptionSettings(site=args.site, peer=args.peer, grace_s=args.grace_seconds,
                                lookback_s=args.lookback_seconds, tick_s=args.tick_seconds)
    adopter = Adopter(settings, args.kafka, catalog, producer, config_for)
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        adopter.run(stopped, on_ready=lambda: print(f"ready site={args.site} peer={args.peer}",
                                                    flush=True))
    finally:
        adopter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
