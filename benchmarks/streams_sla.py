"""SLA aggregation throughput of one stream worker, beside a raw consume of the same log.

    uv run python benchmarks/streams_sla.py [--calls 6000] [--seed 4] [--kafka HOST:PORT]
        [--py-spy OUT]   (with ``uv run --with py-spy``: collapsed stacks of the worker)

Starts a Kafka (devstack) unless ``--kafka`` is given. Produces a generated log of
``--calls`` calls on two queues (queued, then answered and completed, abandoned, or a
callback request; about 2.6 events per call) for one tenant, *before* any consumer
runs. Then, in the same run and on the same topics:

* raw: a confluent-kafka consumer reads every input record (no decoding): events/s;
* worker: one stream worker (intake → re-key by tenant → tenant stream: routing then
  SLA, with their changelog checkpoints and SLA outputs) processes the whole log; done
  when its committed offsets reach the end of the inputs and of its tenant topic:
  events/s.

Prints both and their ratio (the figure: how much of the broker's read speed the
worker's aggregation keeps), the worker's CPU per input event (steadier than the ratio
on a shared machine) and the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, datetime, timedelta

from confluent_kafka import OFFSET_BEGINNING, Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient
from streams_common import end_offsets, kafka, worker

from hotline_events.catalog import Catalog
from hotline_events.envelope import Event
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallCompleted, CallQueued
from hotline_events.producer import EventProducer

TENANT = """
tenant: bench
queues:
  billing:
    required_skills: [billing]
  general:
    required_skills: [general]
    service_level: {threshold_s: 30, target: 0.9, abandon_treatment: ignored}
"""
SOURCE = "//hotline/site-a/bench/sla"
DAY = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
TOKEN = "ct1_" + "cd" * 32


def generated_log(calls: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    timed: list[tuple[datetime, int, Event]] = []
    span = calls * 3.0  # one call every 3 s on average
    for n in range(calls):
        call, queue = f"sla-{n:07d}", rng.choice(["billing", "general"])
        enq = DAY + timedelta(seconds=rng.uniform(0, span))
        timed.append((enq, 0, Event(data=CallQueued(call_id=call, tenant="bench", queue=queue,
                                                    enqueued_at=enq), source=SOURCE, time=enq)))
        roll = rng.random()
        wait = float(rng.randint(0, 90))
        end = enq + timedelta(seconds=wait)
        if roll < 0.75:
            timed.append((end, 1, Event(data=CallAnswered(
                call_id=call, tenant="bench", queue=queue, agent_id=f"ag{n % 40}",
                wait_seconds=wait), source=SOURCE, time=end)))
            done = end + timedelta(seconds=rng.randint(30, 400))
            timed.append((done, 2, Event(data=CallCompleted(
                call_id=call, tenant="bench", queue=queue, agent_id=f"ag{n % 40}",
                talk_seconds=float(rng.randint(30, 300)), hold_seconds=0.0,
                wrap_up_seconds=float(rng.randint(5, 60)), disposition="resolved",
                ended_by="caller"), source=SOURCE, time=done)))
        elif roll < 0.95:
            timed.append((end, 1, Event(data=CallAbandoned(
                call_id=call, tenant="bench", stage="queue", queue=queue,
                wait_seconds=wait), source=SOURCE, time=end)))
        else:
            timed.append((end, 1, Event(data=CallbackRequested(
                callback_id=f"cb-{n}", call_id=call, tenant="bench", queue=queue,
                reason="caller-request", caller_token=TOKEN, original_enqueued_at=enq),
                source=SOURCE, time=end)))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in timed]


def input_topics(catalog: Catalog) -> list[str]:
    return [catalog.topic_for_type(CallQueued.TYPE).name,
            catalog.topic_for_type(CallbackRequested.TYPE).name]


def raw_consume(bootstrap: str, topics: list[str], expected: int) -> float:
    """Seconds for a plain consumer to read ``expected`` records."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-{time.time()}",
                         "enable.auto.commit": False})
    assignment = [TopicPartition(t, p, OFFSET_BEGINNING)
                  for (t, p) in end_offsets(bootstrap, topics)]
    consumer.assign(assignment)
    got = 0
    start = time.perf_counter()
    while got < expected:
        batch = consumer.consume(1000, 1.0)
        got += sum(1 for m in batch if not m.error())
    elapsed = time.perf_counter() - start
    consumer.close()
    return elapsed


def committed_all(admin: AdminClient, group: str, ends: dict[tuple[str, int], int]) -> bool:
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(t, p) for t, p in ends])
    result = admin.list_consumer_group_offsets([request])[group].result(10)
    # An empty partition has end 0 and no committed offset (negative): done.
    return all(tp.offset >= ends[(tp.topic, tp.partition)] or ends[(tp.topic, tp.partition)] == 0
               for tp in result.topic_partitions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--kafka", default=None)
    parser.add_argument("--py-spy", default=None, metavar="OUT",
                        help="record the worker with py-spy for 30 s (collapsed stacks)")
    args = parser.parse_args()
    events = generated_log(args.calls, args.seed)
    with kafka(args.kafka) as bootstrap:
        # The log is produced before the worker starts and spans hours over several
        # partitions: the intake reads them interleaved, so event time jumps ahead; a day
        # of grace keeps every outcome counted (as in real time, where nothing is late).
        with worker(bootstrap, TENANT, start=False,
                    settings={"HOTLINE_SLA_GRACE_S": "86400"}) as w:
            producer = EventProducer(bootstrap, SOURCE, catalog=w.catalog)
            for event in events:
                producer.publish_event(event)
            producer.flush(120)
            topics = input_topics(w.catalog)
            inputs_end = end_offsets(bootstrap, topics)
            total = sum(inputs_end.values())
            raw_s = raw_consume(bootstrap, topics, total)
            admin = AdminClient({"bootstrap.servers": bootstrap})
            w.start()  # measured from its readiness (recovery and joining excluded)
            started = time.perf_counter()
            cpu0 = w.cpu_seconds()
            load = os.getloadavg()
            spy = w.profile(args.py_spy, 30) if args.py_spy else None
            while not committed_all(admin, w.app_id, inputs_end):
                time.sleep(0.25)  # polling the group's offsets
            tenant_topic = f"{w.app_id}-tenant-events"
            tenant_end = end_offsets(bootstrap, [tenant_topic])
            while not committed_all(admin, w.app_id, tenant_end):
                time.sleep(0.25)
            worker_s = time.perf_counter() - started
            cpu = w.cpu_seconds() - cpu0
            if spy is not None:
                spy.wait(60)
        print(f"SLA aggregation: {args.calls} calls, {total} input events, one tenant, "
              "one worker")
        print(f"  raw confluent-kafka consume: {total / raw_s:,.0f} events/s ({raw_s:.2f} s)")
        print(f"  stream worker (intake + routing + SLA, changelogs, outputs): "
              f"{total / worker_s:,.0f} events/s ({worker_s:.1f} s, CPU {cpu:.1f} s)")
        print(f"  ratio worker/raw: {raw_s / worker_s:.3f}; worker CPU per input event "
              f"{cpu / total * 1e3:.2f} ms")
        print(f"  machine load average when the worker started (1/5/15 min): {load[0]:.2f} "
              f"{load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
