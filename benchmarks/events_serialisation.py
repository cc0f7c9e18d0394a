"""Events per second for (de)serialising + validating a realistic event mix, one core.

    uv run python benchmarks/events_serialisation.py [--seconds 2]

Compares the contract's path (msgspec structs: encode, then a typed decode that
validates; decode = typed decode, plus the CloudEvents headers both ways) with
baselines that validate plain dicts against the same generated JSON Schemas:
stdlib json + jsonschema (the reference validator) and stdlib json + fastjsonschema
(compiled validators). Each direction is timed over the same mix.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import fastjsonschema
import msgspec
from jsonschema import Draft202012Validator

from hotline_events import REGISTRY, Event, decode, encode
from hotline_events.envelope import decode_body, encode_body, headers_of
from hotline_events.examples import examples
from hotline_events.schemas import schema_of

# Events of one typical call plus the state traffic around it (weights per call):
# IVR, queue with three estimate updates, agent, completion, and agent/queue state.
MIX: dict[str, int] = {
    "hotline.call.offered.v1": 1, "hotline.call.answered-by-ivr.v1": 1,
    "hotline.call.ivr-step.v1": 2, "hotline.call.ivr-selection.v1": 2,
    "hotline.call.queued.v1": 1, "hotline.call.position-announced.v1": 1,
    "hotline.queue.wait-estimate.v1": 3, "hotline.routing.decision.v1": 1,
    "hotline.call.offered-to-agent.v1": 1, "hotline.call.agent-ringing.v1": 1,
    "hotline.call.answered.v1": 1, "hotline.call.held.v1": 1, "hotline.call.resumed.v1": 1,
    "hotline.call.completed.v1": 1, "hotline.call.recording-stored.v1": 1,
    "hotline.call.survey-answered.v1": 1, "hotline.agent.wrap-up-started.v1": 1,
    "hotline.agent.wrap-up-ended.v1": 1, "hotline.agent.ready.v1": 1,
    "hotline.queue.statistics.v1": 1, "hotline.metrics.sla-interval.v1": 1,
    "hotline.media.heartbeat.v1": 1,
}
SOURCE = "//hotline/site-a/media-node/mn-1"


def build_mix(calls: int) -> list[Event]:
    out = []
    base = examples()
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for i in range(calls):
        for ce_type, weight in MIX.items():
            data = base[ce_type]
            if "call_id" in data.__struct_fields__:
                data = msgspec.structs.replace(data, call_id=f"c-{i:08x}")  # type: ignore[call-arg]
            for _ in range(weight):
                out.append(Event(data=data, source=SOURCE, id=str(uuid.UUID(int=len(out))),
                                 time=t0 + timedelta(milliseconds=len(out))))
    return out


def rate(label: str, items: list[Any], fn: Callable[[Any], object], seconds: float) -> float:
    for item in items[:200]:  # warm up
        fn(item)
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for item in items:
            fn(item)
        done += len(items)
    per_second = done / (time.perf_counter() - start)
    print(f"  {label:<58} {per_second:>12,.0f} events/s")
    return per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--calls", type=int, default=100, help="calls in the mix")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    events = build_mix(args.calls)
    records = [encode(e) for e in events]
    wire = [(headers, value) for _key, value, headers in records]
    mean_size = sum(len(v) for _, v in wire) / len(wire)
    print(f"{len(events)} events ({len(MIX)} types, mean body {mean_size:.0f} bytes), "
          f"{args.seconds} s per measurement, one core; Python {platform.python_version()}, "
          f"msgspec {msgspec.__version__}")

    # Baselines get what such code would hold: plain dicts, validated per type.
    dicts = [(e, msgspec.json.decode(msgspec.json.encode(e.data))) for e in events]
    ref = {t: Draft202012Validator(schema_of(cls)) for t, cls in REGISTRY.items()}
    fast = {t: fastjsonschema.compile(schema_of(cls)) for t, cls in REGISTRY.items()}

    def json_encode(validate: Callable[[str, Any], object]) -> Callable[[Any], object]:
        def run(item: tuple[Event, dict[str, Any]]) -> object:
            event, body = item
            validate(event.type, body)
            return (event.data.subject.encode(), json.dumps(body).encode(), headers_of(event))
        return run

    def json_decode(validate: Callable[[str, Any], object]) -> Callable[[Any], object]:
        def run(record: tuple[list[tuple[str, bytes]], bytes]) -> object:
            headers, value = record
            attrs = {k: v.decode() for k, v in headers}
            body = json.loads(value)
            validate(attrs["ce_type"], body)
            datetime.fromisoformat(attrs["ce_time"])
            return attrs, body
        return run

    def ref_validate(t: str, body: Any) -> None:
        ref[t].validate(body)

    def fast_validate(t: str, body: Any) -> None:
        fast[t](body)

    print("encode + validate (struct/dict → key, JSON body, CloudEvents headers)")
    results = {
        "msgspec": rate("msgspec (hotline_events.encode)", events, encode, args.seconds),
        "fast": rate("json + fastjsonschema", dicts, json_encode(fast_validate), args.seconds),
        "ref": rate("json + jsonschema (Draft 2020-12)", dicts, json_encode(ref_validate),
                    args.seconds),
    }
    print("  body only (the serialiser choice itself):")
    rate("  msgspec encode + typed re-decode", events,
         lambda e: encode_body(e.data), args.seconds)
    rate("  json.dumps + fastjsonschema", dicts,
         lambda item: (fast[item[0].type](item[1]), json.dumps(item[1]).encode()), args.seconds)
    print("decode + validate (headers + body → event)")
    back = {
        "msgspec": rate("msgspec (hotline_events.decode, typed structs)", wire,
                        lambda r: decode(r[0], r[1]), args.seconds),
        "fast": rate("json + fastjsonschema (dicts)", wire, json_decode(fast_validate),
                     args.seconds),
        "ref": rate("json + jsonschema (dicts)", wire, json_decode(ref_validate), args.seconds),
    }
    print("  body only:")
    rate("  msgspec typed decode (→ struct)", wire,
         lambda r: decode_body(dict(r[0])["ce_type"].decode(), r[1]), args.seconds)
    rate("  json.loads + fastjsonschema (→ dict)", wire,
         lambda r: fast[dict(r[0])["ce_type"].decode()](json.loads(r[1])), args.seconds)
    print(f"msgspec vs fastjsonschema: encode {results['msgspec'] / results['fast']:.1f}x, "
          f"decode {back['msgspec'] / back['fast']:.1f}x; vs jsonschema: encode "
          f"{results['msgspec'] / results['ref']:.0f}x, "
          f"decode {back['msgspec'] / back['ref']:.0f}x")


if __name__ == "__main__":
    main()
