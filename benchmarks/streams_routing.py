"""Routing latency of one stream worker: ``queued`` produced → decision consumed.

    uv run python benchmarks/streams_routing.py [--agents 1000] [--rate 100]
        [--seconds 30] [--warm-up 20] [--handle 8] [--kafka HOST:PORT]
        [--py-spy OUT]   (with ``uv run --with py-spy``: collapsed stacks of the worker)
        [--pin]          (the worker on the last CPU, Kafka and this script on the others)

Starts a Kafka (devstack) unless ``--kafka`` is given, and one worker. Logs in
``--agents`` ready agents of one tenant, then offers ``--rate`` new contacts per second
for ``--warm-up`` seconds (not measured: a freshly started Kafka's JVM compiles its hot
paths during its first minute and took a core from the worker, multiplying the latency
tenfold) and then for ``--seconds``, measured. Like a media node and the agents'
desktops, the script answers each decision at once and completes the call after
``--handle`` seconds (completed, then wrap-up ended), so the worker sees about four
events per contact. Prints p50/p90/p99/max of the latency from producing ``queued`` to
consuming its decision (one clock: both ends are this process), where that time went leg
by leg (from Kafka's timestamps, read back after the run: the append to the call topic,
set to ``LogAppendTime`` here, the intake's re-keyed record and the decision), when the
slowest 1 % were offered, the decisions received, the rate achieved, the worker's CPU
and the machine's load average (the machine may be shared). With ``--pin`` the worker
gets a core of its own, as a pod with a dedicated core would; with ``--kafka`` pin that
broker yourself (``taskset -a -p -c 0 <pid>``). Target: p99 ≤ 50 ms. The run's topics
are deleted at the end; Kafka removes their files a minute later
(``file.delete.delay.ms``), which slowed a run started within that minute on the same
broker: leave a minute between runs on one ``--kafka``.
"""

from __future__ import annotations

import argparse
import heapq
import os
import threading
import time
from datetime import UTC, datetime
from itertools import pairwise

from confluent_kafka import OFFSET_END, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from streams_common import (
    cpu_times,
    end_offsets,
    kafka,
    percentile,
    pin_worker,
    stolen_share,
    worker,
)

from devstack.kafka import allocation_stalls, gc_log_serving
from hotline_events.envelope import Event, decode
from hotline_events.models.agents import AgentLoggedIn, AgentReady, SkillLevel, WrapUpEnded
from hotline_events.models.calls import CallAnswered, CallCompleted, CallQueued
from hotline_events.models.routing import RoutingDecision
from hotline_events.producer import EventProducer

TENANT = """
tenant: bench
queues:
  general:
    required_skills: [general]
    ring_timeout_s: 3600
"""
SOURCE = "//hotline/site-a/bench/routing"


def now() -> datetime:
    return datetime.now(UTC)


def stamp_appends(bootstrap: str, topic: str) -> None:
    """Kafka stamps ``topic``'s records when it appends them (the worker reads only the
    re-keyed records' stamps), so a stall splits into the broker's side and the worker's."""
    change = ConfigResource("TOPIC", topic, incremental_configs=[ConfigEntry(
        "message.timestamp.type", "LogAppendTime",
        incremental_operation=AlterConfigOpType.SET)])
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for done in admin.incremental_alter_configs([change]).values():
        done.result(timeout=30)


def kafka_times(bootstrap: str, topic: str, event_ids: dict[str, str]) -> dict[str, float]:
    """Call → the Kafka timestamp (s) of the record on ``topic`` whose event id is one of
    ``event_ids`` (event id → call); read back after the run, so it costs the run nothing."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-legs",
                         "enable.auto.commit": False})
    ends = {p: end for (_, p), end in end_offsets(bootstrap, [topic]).items()}
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    found: dict[str, float] = {}
    unread = {p for p, end in ends.items() if end > 0}
    while unread:
        msg = consumer.poll(5)
        if msg is None:
            raise SystemExit(f"{topic}: partitions {sorted(unread)} not read to their end")
        if msg.error():
            continue
        partition, offset = msg.partition() or 0, msg.offset() or 0
        if offset + 1 >= ends[partition]:
            unread.discard(partition)
        ce_id = dict(msg.headers() or ()).get("ce_id")
        call = event_ids.get(ce_id.decode() if isinstance(ce_id, bytes) else str(ce_id))
        if call is not None:
            found[call] = msg.timestamp()[1] / 1000
    consumer.close()
    return found


def print_legs(stamps: list[dict[str, float]]) -> None:
    """Each leg's p50/p99 and the slowest 1 %'s median, and when the slowest 1 % were
    offered: a stall shows as a run of neighbours, a periodic one as a rhythm."""
    calls = [c for c in stamps[-1] if all(c in at for at in stamps)]
    legs = {c: [(b[c] - a[c]) * 1000 for a, b in pairwise(stamps)] for c in calls}
    slowest = sorted(calls, key=lambda c: -sum(legs[c]))[:max(1, len(calls) // 100)]
    print("  where the time went (ms: p50 / p99 / median of the slowest 1 %):")
    for i, name in enumerate(LEGS):
        values = [legs[c][i] for c in calls]
        print(f"    {name:<38} {percentile(values, 0.5):6.1f} / {percentile(values, 0.99):6.1f}"
              f" / {percentile([legs[c][i] for c in slowest], 0.5):6.1f}")
    first = min(stamps[0][c] for c in calls)
    print("  slowest 1 % offered at (s into the measured load): " + " ".join(
        f"{stamps[0][c] - first:.2f}" for c in sorted(slowest, key=lambda c: stamps[0][c])))


# From producing ``queued`` to consuming its decision; one clock (this machine's).
LEGS = ("queued produced → appended by Kafka", "appended → re-keyed by the intake",
        "re-keyed → decision produced", "decision produced → consumed here")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warm-up", type=float, default=20.0,
                        help="seconds of the same load before measuring")
    parser.add_argument("--handle", type=float, default=8.0)
    parser.add_argument("--kafka", default=None)
    parser.add_argument("--py-spy", default=None, metavar="OUT",
                        help="record the worker with py-spy during the load (collapsed stacks)")
    parser.add_argument("--pin", action="store_true",
                        help="the worker alone on the last CPU; Kafka and this script on the rest")
    args = parser.parse_args()
    pinned = pin_worker() if args.pin else None
    worker_cpus = pinned[0] if pinned else None
    with kafka(args.kafka) as bootstrap, worker(bootstrap, TENANT, cpus=worker_cpus) as w:
        producer = EventProducer(bootstrap, SOURCE, catalog=w.catalog,
                                 config={"linger.ms": 1})
        decisions_topic = w.catalog.topic_for_type(RoutingDecision.TYPE).name
        calls_topic = w.catalog.topic_for_type(CallQueued.TYPE).name
        stamp_appends(bootstrap, calls_topic)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{w.app_id}-bench",
                             "enable.auto.commit": False})
        parts = consumer.list_topics(decisions_topic, timeout=10).topics[decisions_topic]
        consumer.assign([TopicPartition(decisions_topic, p, OFFSET_END)
                         for p in parts.partitions])
        for n in range(args.agents):
            producer.publish_event(Event(data=AgentLoggedIn(
                agent_id=f"ag{n}", tenant="bench", site="site-a",
                skills=(SkillLevel(skill="general", proficiency=1 + n % 5),)), source=SOURCE))
            producer.publish_event(Event(data=AgentReady(agent_id=f"ag{n}", tenant="bench"),
                                         source=SOURCE))
        producer.flush()
        deadline = time.monotonic() + 120
        while sum(a["state"] == "ready" for a in w.get("/tenants/bench/agents")["agents"]) \
                < args.agents:
            if time.monotonic() > deadline:
                raise SystemExit("agents not all ready after 120 s")
            time.sleep(0.5)  # polling the agents view
        sent: dict[str, float] = {}
        latency: list[float] = []
        done = threading.Event()

        def agents_desk() -> None:
            """Consume decisions: answer at once, complete and end wrap-up after handle."""
            later: list[tuple[float, str, str]] = []
            while not done.is_set() or later:
                msg = consumer.poll(0.01)
                if msg is not None and not msg.error():
                    got = time.time()
                    event = decode(msg.headers(), msg.value())
                    data = event.data
                    if isinstance(data, RoutingDecision) and data.call_id in sent \
                            and data.call_id not in answered:
                        if data.call_id in measured:
                            latency.append(got - sent[data.call_id])
                            decided_at[data.call_id] = msg.timestamp()[1] / 1000
                            got_at[data.call_id] = got
                        answered.add(data.call_id)
                        producer.publish_event(Event(data=CallAnswered(
                            call_id=data.call_id, tenant="bench", queue="general",
                            agent_id=data.agent_id, wait_seconds=data.waited_seconds),
                            source=SOURCE))
                        heapq.heappush(later, (time.monotonic() + args.handle, data.call_id,
                                               data.agent_id))
                while later and later[0][0] <= time.monotonic():
                    _, call, agent = heapq.heappop(later)
                    producer.publish_event(Event(data=CallCompleted(
                        call_id=call, tenant="bench", queue="general", agent_id=agent,
                        talk_seconds=args.handle, hold_seconds=0, wrap_up_seconds=0,
                        disposition="resolved", ended_by="caller"), source=SOURCE))
                    producer.publish_event(Event(data=WrapUpEnded(
                        agent_id=agent, tenant="bench", call_id=call, wrap_up_seconds=0),
                        source=SOURCE))

        answered: set[str] = set()
        measured: set[str] = set()
        queued_ids: dict[str, str] = {}  # event id of a measured ``queued`` → its call
        decided_at: dict[str, float] = {}  # call → its decision's Kafka timestamp (s)
        got_at: dict[str, float] = {}  # call → when its decision was consumed here
        desk = threading.Thread(target=agents_desk, daemon=True)
        desk.start()

        def offer(prefix: str, seconds: float, measure: bool) -> float:
            """``--rate`` contacts/s for ``seconds``; returns the seconds it took."""
            start = time.monotonic()
            for n in range(int(args.rate * seconds)):
                due = start + n / args.rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)  # pacing the offered load
                call = f"{prefix}-{n:06d}"
                event = Event(data=CallQueued(call_id=call, tenant="bench", queue="general",
                                              enqueued_at=now()), source=SOURCE)
                if measure:
                    measured.add(call)
                    queued_ids[event.id] = call
                sent[call] = time.time()
                producer.publish_event(event)
            return time.monotonic() - start

        offer("warm", args.warm_up, measure=False)
        measured_from = time.time()
        cpu_before = cpu_times()
        cpu_start = w.cpu_seconds()
        total = int(args.rate * args.seconds)
        spy = w.profile(args.py_spy, args.seconds) if args.py_spy else None
        start = time.monotonic()
        offered_s = offer("bench", args.seconds, measure=True)
        load = os.getloadavg()
        stolen = stolen_share(cpu_before, cpu_times())
        drain = time.monotonic() + 30
        while len(latency) < total and time.monotonic() < drain:
            time.sleep(0.2)  # let the last decisions arrive
        done.set()
        desk.join(args.handle + 30)
        if spy is not None:
            spy.wait(60)
        elapsed = time.monotonic() - start
        cpu = w.cpu_seconds() - cpu_start
        producer.flush()
        consumer.close()
        appended_at = kafka_times(bootstrap, calls_topic, queued_ids)
        rekeyed_at = kafka_times(bootstrap, f"{w.app_id}-tenant-events", queued_ids)
        ms = [x * 1000 for x in latency]
        print(f"routing: {args.agents} agents, {args.rate:g} new contacts/s for "
              f"{args.seconds:g} s after {args.warm_up:g} s of warm-up, handle "
              f"{args.handle:g} s, one worker")
        if pinned:
            print(f"  worker pinned to CPU {sorted(pinned[0])}, this script (and a Kafka it "
                  f"started) to CPU {sorted(pinned[1])}")
        print(f"  decisions {len(ms)}/{total}; latency queued-produced → decision-consumed: "
              f"p50 {percentile(ms, 0.5):.1f} ms, p90 {percentile(ms, 0.9):.1f} ms, "
              f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms")
        print_legs([sent, appended_at, rekeyed_at, decided_at, got_at])
        gc_log = gc_log_serving(bootstrap)
        if gc_log is not None:
            stalls = allocation_stalls(gc_log, measured_from)
            print(f"  Kafka's collector stalled the broker {len(stalls)} times during the "
                  f"measured load" + (f", longest {max(stalls):.0f} ms" if stalls else "")
                  + f" ({gc_log})")
        print(f"  offered {total / offered_s:.1f} contacts/s achieved; worker CPU {cpu:.1f} s over "
              f"{elapsed:.1f} s ({cpu / elapsed:.0%} of a core)")
        print(f"  machine load average at the end of the offered load (1/5/15 min): "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs; "
              f"CPU time stolen by the hypervisor during it: {stolen:.0%}")


if __name__ == "__main__":
    main()
