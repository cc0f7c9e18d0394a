"""Read Hotline's call events (local and mirrored) into DuckDB and compute per-queue KPIs.

    uv run python events/examples/bi_duckdb.py --bootstrap 127.0.0.1:9092 [--seconds 10]
    uv run python events/examples/bi_duckdb.py --demo        # no Kafka: example events

It uses only the wire contract (CloudEvents headers + JSON body), as a BI job in any
language would: one row per event with its headers, deduplicated on ``ce_id``
(mirroring and failovers replay records), then SQL over the JSON bodies.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

# Both this site's topic and the other sites' mirrored copies (`site-b.cc.call.events`).
Record = tuple[str, Any, Any]  # (topic, headers, value) as confluent-kafka returns them
CALL_TOPICS = r"^(site-[a-z0-9-]+\.)?cc\.call\.events$"

KPIS = """
WITH e AS (
    SELECT ce_type, ce_time, body->>'call_id' AS call_id, body->>'queue' AS queue,
           CAST(body->>'wait_seconds' AS DOUBLE) AS wait_seconds
    FROM events
)
SELECT queue,
       count(*) FILTER (ce_type = 'hotline.call.queued.v1')                     AS offered,
       count(*) FILTER (ce_type = 'hotline.call.answered.v1')                   AS answered,
       count(*) FILTER (ce_type = 'hotline.call.abandoned.v1')                  AS abandoned,
       count(*) FILTER (ce_type = 'hotline.call.abandoned.v1' AND wait_seconds < 5)
                                                                                AS short_abandons,
       count(*) FILTER (ce_type = 'hotline.call.answered.v1' AND wait_seconds <= 20)
                                                                                AS answered_20s,
       round(avg(wait_seconds) FILTER (ce_type = 'hotline.call.answered.v1'), 1) AS asa_seconds
FROM e WHERE queue IS NOT NULL
GROUP BY queue ORDER BY queue
"""


def rows_from_records(records: Iterable[Record]) -> list[
        dict[str, Any]]:
    """(topic, headers, value) → one row per distinct event (first copy wins)."""
    seen: set[str] = set()
    rows = []
    for topic, headers, value in records:
        attrs = {k: v.decode() for k, v in headers if v is not None}
        if attrs.get("ce_id") in seen or value is None:
            continue
        seen.add(attrs["ce_id"])
        rows.append({"topic": topic, "ce_id": attrs["ce_id"], "ce_type": attrs["ce_type"],
                     "ce_time": attrs["ce_time"], "ce_source": attrs["ce_source"],
                     "body": json.loads(value)})
    return rows


def load(rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.ndjson"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        con.execute(f"""CREATE TABLE events AS SELECT topic, ce_id, ce_type,
                        CAST(ce_time AS TIMESTAMPTZ) AS ce_time, ce_source, body
                        FROM read_json('{path}', columns={{topic: 'VARCHAR', ce_id: 'VARCHAR',
                        ce_type: 'VARCHAR', ce_time: 'VARCHAR', ce_source: 'VARCHAR',
                        body: 'JSON'}})""")
    return con


def from_kafka(bootstrap: str, seconds: float) -> list[Record]:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bi-example-{time.time()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([CALL_TOPICS])
    out = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                out.append((msg.topic(), msg.headers() or [], msg.value()))
    finally:
        consumer.close()
    return out


def demo_records() -> list[Record]:
    from hotline_events import Event, encode
    from hotline_events.examples import examples

    out = []
    for ce_type in ("hotline.call.queued.v1", "hotline.call.answered.v1",
                    "hotline.call.abandoned.v1", "hotline.call.completed.v1"):
        _, value, headers = encode(Event(data=examples()[ce_type],
                                         source="//hotline/site-a/media-node/mn-1"))
        out.append(("cc.call.events", headers, value))
        out.append(("site-a.cc.call.events", headers, value))  # a replayed copy: deduped
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", help="host:port of a site's Kafka")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to read")
    parser.add_argument("--demo", action="store_true", help="use example events, no Kafka")
    args = parser.parse_args()
    if not args.demo and not args.bootstrap:
        parser.error("give --bootstrap or --demo")
    records = demo_records() if args.demo else from_kafka(args.bootstrap, args.seconds)
    con = load(rows_from_records(records))
    print(con.sql("SELECT ce_type, count(*) AS n FROM events GROUP BY ALL ORDER BY ALL"))
    print(con.sql(KPIS))


if __name__ == "__main__":
    main()
