"""Health answers and Prometheus text from a snapshot of a worker's or a pool's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Phase = Literal["starting", "ready", "draining", "stopping"]


@dataclass(frozen=True)
class Snapshot:
    phase: Phase
    active_calls: int = 0
    capacity: int = 0  # call legs it can carry now
    calls_total: int = 0  # calls offered since start
    events_buffered: int = 0  # waiting for Kafka
    events_dropped: int = 0  # oldest dropped because the buffer was full
    degraded: str = ""  # why, when degraded (Kafka down); "" when healthy
    workers: int = 1  # live workers (a pool); 1 for a worker
    workers_restarted: int = 0
    calls_lost: int = 0  # calls reported lost because their worker died


def healthz(s: Snapshot) -> tuple[int, str]:
    """Alive: 200 while the loop runs, degraded or not (restarting would not fix Kafka)."""
    if s.degraded:
        return 200, f"degraded: {s.degraded}\n"
    return 200, "ok\n"


def readyz(s: Snapshot) -> tuple[int, str]:
    """Takes new calls: not before registration (SIP up), not while draining."""
    if s.phase != "ready":
        return 503, f"not ready: {s.phase}\n"
    if s.workers == 0 or s.capacity == 0:
        return 503, "not ready: no live worker\n"
    if s.degraded:
        # Still ready: calls flow without Kafka; the body says what is wrong.
        return 200, f"ready, degraded: {s.degraded}\n"
    return 200, "ready\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
                    for k, v in sorted(labels.items()))
    return "{" + body + "}"


_METRICS: tuple[tuple[str, str, str, str], ...] = (
    # name, type, help, Snapshot field
    ("hotline_media_active_calls", "gauge", "Calls held now.", "active_calls"),
    ("hotline_media_capacity_calls", "gauge", "Call legs it can carry now.", "capacity"),
    ("hotline_media_calls_total", "counter", "Calls offered since start.", "calls_total"),
    ("hotline_media_events_buffered", "gauge", "Events waiting for Kafka.", "events_buffered"),
    ("hotline_media_events_dropped_total", "counter",
     "Oldest events dropped because the buffer was full.", "events_dropped"),
    ("hotline_media_workers", "gauge", "Live pjsua2 worker processes.", "workers"),
    ("hotline_media_worker_restarts_total", "counter", "Dead workers restarted.",
     "workers_restarted"),
    ("hotline_media_calls_lost_total", "counter", "Calls lost with a dead worker.",
     "calls_lost"),
)


def metrics_text(s: Snapshot, labels: dict[str, str]) -> str:
    """Prometheus text exposition format 0.0.4."""
    lab = _labels(labels)
    lines: list[str] = []
    for name, kind, help_text, field in _METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}",
                  f"{name}{lab} {int(getattr(s, field))}"]
    for flag, value in (("draining", s.phase == "draining"), ("degraded", bool(s.degraded)),
                        ("ready", readyz(s)[0] == 200)):
        name = f"hotline_media_{flag}"
        lines += [f"# HELP {name} 1 when {flag}.", f"# TYPE {name} gauge",
                  f"{name}{lab} {int(value)}"]
    return "\n".join(lines) + "\n"
