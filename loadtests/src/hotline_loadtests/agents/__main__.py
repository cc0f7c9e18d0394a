"""``python -m hotline_loadtests.agents``: agent desktops on Kafka until SIGTERM/Ctrl-C."""

from __future__ import annotations

import argparse
import heapq
import itertools
import logging
import signal
import sys
import time
import uuid
from types import FrameType

from hotline_events.catalog import default_catalog
from hotline_events.consumer import ContractConsumer
from hotline_events.models import EventModel
from hotline_events.models.calls import CallCompleted
from hotline_events.producer import EventProducer, ProducerError
from hotline_loadtests.agents import logic

log = logging.getLogger("hotline.loadtests.agents")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hotline_loadtests.agents")
    p.add_argument("--kafka", required=True)
    p.add_argument("--topic-prefix", default="")
    p.add_argument("--tenant", required=True)
    p.add_argument("--site", default="site-a")
    p.add_argument("--agents", type=int, default=4)
    p.add_argument("--id-prefix", default="agent-")
    p.add_argument("--skills", default="general:3", help="e.g. general:3,cards:5")
    p.add_argument("--wrap-up-seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    catalog = default_catalog()
    if args.topic_prefix:
        catalog = catalog.prefixed(args.topic_prefix)
    team = logic.agents(args.id_prefix, args.agents, logic.parse_skills(args.skills))
    ours = {a.agent_id for a in team}
    producer = EventProducer(args.kafka, f"//hotline/{args.site}/loadtests/agents",
                             catalog=catalog)
    consumer = ContractConsumer(args.kafka, f"demo-agents-{uuid.uuid4().hex[:8]}",
                                [catalog.topic_for_type(CallCompleted.TYPE).name],
                                catalog=catalog, config={"auto.offset.reset": "latest"})
    stop: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for event in logic.log_in(args.tenant, args.site, team):
        producer.publish(event)
    producer.flush(30)
    print(f"agents ready: {len(team)} of {args.tenant} ({args.skills})", flush=True)
    due: list[tuple[float, int, EventModel]] = []
    order = itertools.count()
    try:
        while not stop:
            received = consumer.poll(0.2)
            now = time.monotonic()
            if received is not None:
                for at, event in logic.after_call(received.event.data, args.tenant, ours, now,
                                                  args.wrap_up_seconds):
                    heapq.heappush(due, (at, next(order), event))
            while due and due[0][0] <= now:
                producer.publish(heapq.heappop(due)[2])
    finally:
        consumer.close()
        try:
            producer.flush(10)
        except ProducerError as err:
            log.error("agent events lost at shutdown: %s", err)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
