"""A scripted day through a real worker on the real Kafka: per-interval SLA figures
equal an independent DuckDB batch computation over the same event log, also when the
worker is SIGKILLed mid-run (after it committed some input offsets) and restarted.

The kill case used to lose outcomes under CPU load: faust's producer buffer let input
offsets be committed before the table writes were durable, and (the intermittent
residue, one outcome now and then) before the intake's re-keyed records were: an input
is now acked only once its outputs and then its state are acknowledged by Kafka
(``hotline_streams.durable`` has the story)."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from helpers.kafka_io import committed
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.agents import AgentLoggedOut
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallCompleted, CallQueued
from hotline_events.models.metrics import SlaInterval

pytestmark = pytest.mark.integration

DAY = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SOURCE = "//hotline/site-a/test/streams"
TOKEN = "ct1_" + "cd" * 32
# The tenant file of conftest.TENANTS, as the batch side sees it (kept separate on purpose).
SETTINGS = {"billing": (20.0, 5.0, "against"), "general": (30.0, 3.0, "ignored")}


def ev(data: EventModel, time: datetime) -> Event:
    return Event(data=data, source=SOURCE, time=time)


def scripted_day(calls: int = 240, seed: int = 4) -> tuple[list[Event], list[dict[str, Any]]]:
    """Two hours of calls (09:00-11:00) on two queues; events in time order, plus the
    plain rows the batch computation reads."""
    rng = random.Random(seed)
    timed: list[tuple[datetime, int, Event]] = []
    rows: list[dict[str, Any]] = []
    for n in range(calls):
        call = f"day-{n:04d}"
        queue = "billing" if rng.random() < 0.6 else "general"
        # some calls land right on or just before an interval edge
        offset = rng.choice([rng.uniform(0, 7200), (n % 8) * 900 - rng.choice([0, 1, 2])])
        enq = DAY + timedelta(seconds=round(max(0.0, offset)))
        timed.append((enq, 0, ev(CallQueued(call_id=call, tenant="acme", queue=queue,
                                            enqueued_at=enq), enq)))
        rows.append({"call_id": call, "kind": "queued", "queue": queue,
                     "at": enq.timestamp(), "wait": None, "handle": None})
        roll = rng.random()
        if roll < 0.70:
            wait = float(rng.randint(0, 60))
            end = enq + timedelta(seconds=wait)
            timed.append((end, 1, ev(CallAnswered(call_id=call, tenant="acme", queue=queue,
                                                  agent_id=f"ag{n % 7}", wait_seconds=wait), end)))
            rows.append({"call_id": call, "kind": "answered", "queue": queue,
                         "at": end.timestamp(), "wait": wait, "handle": None})
            if rng.random() < 0.9:  # some are still talking when the log ends
                talk, hold, wrap = rng.randint(30, 400), rng.choice([0, 0, 15]), rng.randint(5, 60)
                done = end + timedelta(seconds=talk + hold + wrap)
                timed.append((done, 2, ev(CallCompleted(
                    call_id=call, tenant="acme", queue=queue, agent_id=f"ag{n % 7}",
                    talk_seconds=talk, hold_seconds=hold, wrap_up_seconds=wrap,
                    disposition="resolved", ended_by="caller"), done)))
                rows.append({"call_id": call, "kind": "completed", "queue": queue,
                             "at": done.timestamp(), "wait": None,
                             "handle": float(talk + hold + wrap)})
        elif roll < 0.92:
            wait = float(rng.choice([rng.randint(0, 6), rng.randint(0, 90)]))
            end = enq + timedelta(seconds=wait)
            timed.append((end, 1, ev(CallAbandoned(call_id=call, tenant="acme", stage="queue",
                                                   queue=queue, wait_seconds=wait), end)))
            rows.append({"call_id": call, "kind": "abandoned", "queue": queue,
                         "at": end.timestamp(), "wait": wait, "handle": None})
        else:
            end = enq + timedelta(seconds=rng.randint(20, 120))
            timed.append((end, 1, ev(CallbackRequested(
                callback_id=f"cb-{n}", call_id=call, tenant="acme", queue=queue,
                reason="caller-request", caller_token=TOKEN, original_enqueued_at=enq), end)))
            rows.append({"call_id": call, "kind": "callback", "queue": queue,
                         "at": end.timestamp(), "wait": None, "handle": None})
    # An IVR hang-up: never offered to a queue.
    ivr_at = DAY + timedelta(minutes=7)
    timed.append((ivr_at, 1, ev(CallAbandoned(call_id="ivr-1", tenant="acme", stage="ivr",
                                              wait_seconds=0), ivr_at)))
    # The day's last event (a logout at 12:00) moves event time past every interval.
    close = DAY + timedelta(hours=3)
    timed.append((close, 3, ev(AgentLoggedOut(agent_id="ag0", tenant="acme",
                                              staffed_seconds=10800), close)))
    timed.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in timed], rows


def batch_figures(rows: list[dict[str, Any]]) -> dict[tuple[str, datetime], dict[str, Any]]:
    """The independent computation: DESIGN.md's definitions in SQL over the log's rows."""
    con = duckdb.connect()
    con.execute("CREATE TABLE log (call_id VARCHAR, kind VARCHAR, queue VARCHAR, ts DOUBLE, "
                "wait DOUBLE, handle DOUBLE)")
    con.executemany("INSERT INTO log VALUES (?, ?, ?, ?, ?, ?)",
                    [(r["call_id"], r["kind"], r["queue"], r["at"], r["wait"], r["handle"])
                     for r in rows])
    con.execute("CREATE TABLE settings (queue VARCHAR, t DOUBLE, short DOUBLE, treatment VARCHAR)")
    con.executemany("INSERT INTO settings VALUES (?, ?, ?, ?)",
                    [(q, t, s, tr) for q, (t, s, tr) in SETTINGS.items()])
    result = con.execute("""
        WITH q AS (SELECT call_id, queue, ts AS enq FROM log WHERE kind = 'queued'),
             ended AS (SELECT call_id, kind, wait FROM log
                       WHERE kind IN ('answered', 'abandoned', 'callback')),
             h AS (SELECT call_id, handle FROM log WHERE kind = 'completed'),
             c AS (SELECT q.queue, floor(q.enq / 900) * 900 AS start, e.kind, e.wait, h.handle,
                          s.t, s.short, s.treatment
                   FROM q JOIN ended e USING (call_id) LEFT JOIN h USING (call_id)
                   JOIN settings s USING (queue)),
             n AS (SELECT queue, start, any_value(treatment) AS treatment,
                     count(*) AS offered,
                     count(*) FILTER (kind = 'answered') AS answered,
                     count(*) FILTER (kind = 'answered' AND wait <= t) AS answered_within,
                     count(*) FILTER (kind = 'abandoned') AS abandoned,
                     count(*) FILTER (kind = 'abandoned' AND wait <= t) AS abandoned_within,
                     count(*) FILTER (kind = 'abandoned' AND wait <= short) AS short_abandons,
                     count(*) FILTER (kind = 'callback') AS callbacks,
                     avg(wait) FILTER (kind = 'answered') AS asa,
                     avg(handle) FILTER (kind = 'answered' AND handle IS NOT NULL) AS aht
                   FROM c GROUP BY queue, start)
        SELECT *,
          CASE treatment
            WHEN 'ignored' THEN answered_within / nullif(answered, 0)
            WHEN 'against' THEN answered_within / nullif(answered + abandoned - short_abandons, 0)
          END AS service_level,
          (abandoned - short_abandons) / nullif(answered + abandoned - short_abandons, 0)
            AS abandon_rate
        FROM n ORDER BY queue, start
    """)
    names = [d[0] for d in result.description]
    out = {}
    for values in result.fetchall():
        row = dict(zip(names, values, strict=True))
        out[(row["queue"], datetime.fromtimestamp(row["start"], UTC))] = row
    return out


def latest_by_interval(events: list[Event]) -> dict[tuple[str, datetime], SlaInterval]:
    out: dict[tuple[str, datetime], SlaInterval] = {}
    for event in events:
        data = event.data
        assert isinstance(data, SlaInterval)
        if data.tenant == "acme":
            out[(data.queue, data.interval_start)] = data
    return out


def mismatches(expected: dict[tuple[str, datetime], dict[str, Any]],
               got: dict[tuple[str, datetime], SlaInterval]) -> list[str]:
    problems = []
    for key, row in expected.items():
        sla = got.get(key)
        if sla is None:
            problems.append(f"{key}: missing")
            continue
        exact = {"offered": sla.offered, "answered": sla.answered,
                 "answered_within": sla.answered_within_threshold, "abandoned": sla.abandoned,
                 "abandoned_within": sla.abandoned_within_threshold,
                 "short_abandons": sla.short_abandons, "callbacks": sla.callback_requests}
        for name, value in exact.items():
            if row[name] != value:
                problems.append(f"{key} {name}: batch {row[name]}, stream {value}")
        ratios: dict[str, float | None] = {
            "service_level": sla.service_level, "asa": sla.asa_seconds,
            "aht": sla.aht_seconds, "abandon_rate": sla.abandon_rate}
        for name, ratio in ratios.items():
            if (row[name] is None) != (ratio is None) or (
                    ratio is not None and abs(row[name] - ratio) > 1e-9):
                problems.append(f"{key} {name}: batch {row[name]}, stream {ratio}")
        if not sla.final:
            problems.append(f"{key}: not final")
    extra = set(got) - set(expected)
    if extra:
        problems.append(f"intervals the batch does not have: {sorted(extra)}")
    return problems


def wait_for_a_commit(streams: Any) -> None:
    """Until the worker group committed some tenant-topic input (acks work)."""
    group = streams.worker.env["HOTLINE_STREAMS_APP_ID"]
    topic = f"{group}-tenant-events"
    deadline = time.monotonic() + 60
    while sum(max(0, o) for o in committed(streams.bootstrap, group, topic, 6)) == 0:
        assert time.monotonic() < deadline, "the worker committed no input in 60 s"
        time.sleep(0.2)  # polling the group's offsets; Kafka has no push for them


def run_day(streams: Any, kill_mid_run: bool, rebalance: bool = False) -> None:
    # Across rebalances, a busier day: the worker has a backlog when each one begins.
    events, rows = scripted_day(calls=1500 if rebalance else 240)
    expected = batch_figures(rows)
    assert len(expected) == 16  # two queues x eight 15-minute intervals
    half = len(events) // 2
    sla = streams.reader(SlaInterval)
    second = streams.worker.sibling("second") if rebalance else None
    publisher: threading.Thread | None = None
    try:
        streams.worker.start()
        streams.publish(events[:half])
        # The worker produced SLA output for the first half (then, maybe, it dies).
        sla.poll_until(lambda got: len(got) >= 10, timeout=60)
        if second is not None:
            # The rest arrives while a second worker joins (every partition revoked and
            # reassigned mid-stream) and while the first is killed and comes back.
            def paced() -> None:
                step = len(events) // 50  # over about 12 s
                for start in range(half, len(events), step):
                    streams.publish(events[start:start + step])
                    time.sleep(0.5)  # pacing the traffic over the rebalances, not a wait
            publisher = threading.Thread(target=paced, daemon=True)
            publisher.start()
            second.start()
            wait_for_a_commit(streams)
            streams.worker.kill()
            publisher.join(timeout=60)
            assert not publisher.is_alive(), "publishing the second half took over 60 s"
            streams.worker.start()
        else:
            if kill_mid_run:
                wait_for_a_commit(streams)  # the kill lands after some commits
                streams.worker.kill()
            streams.publish(events[half:])
            if kill_mid_run:
                streams.worker.start()
        last: dict[str, list[str]] = {"problems": []}

        def matches(got: list[Event]) -> bool:
            last["problems"] = mismatches(expected, latest_by_interval(got))
            return not last["problems"]

        sla.poll_until(matches, timeout=90, describe=lambda: "; ".join(last["problems"][:8]))
    finally:
        sla.close()
        if publisher is not None:
            publisher.join(timeout=60)
        if second is not None:
            second.stop()


def test_scripted_day_matches_the_batch_computation(streams: Any) -> None:
    run_day(streams, kill_mid_run=False)


def test_scripted_day_matches_batch_across_a_worker_kill(streams: Any) -> None:
    run_day(streams, kill_mid_run=True)


def test_scripted_day_matches_batch_across_rebalances_and_a_kill(streams: Any) -> None:
    """A second worker joins mid-stream, the first is SIGKILLed and rejoins: rebalances
    with a backlog, where faust skips (and used to count as acked) messages fetched
    before the revocation (see ``hotline_streams.durable``)."""
    run_day(streams, kill_mid_run=True, rebalance=True)
