"""A run report as one self-contained HTML page (tables and an inline SVG chart) and
as JSON for scripts; no network, no JavaScript."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from hotline_loadtests.report.models import Report, Sample

_W, _H, _PAD = 900, 260, 40


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}{unit}"


def _polyline(samples: list[Sample], values: list[float | None], top: float,
              colour: str) -> str:
    span = max(samples[-1].t, 1.0)
    points = [f"{_PAD + (s.t / span) * (_W - 2 * _PAD):.1f},"
              f"{_H - _PAD - (v / top) * (_H - 2 * _PAD):.1f}"
              for s, v in zip(samples, values, strict=True) if v is not None]
    if not points:
        return ""
    return (f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{" ".join(points)}"/>')


def chart(samples: list[Sample]) -> str:
    """Arrivals/s and callers waiting on a shared left scale, service level on 0-100 %."""
    if not samples:
        return "<p>No samples.</p>"
    top = max([1.0, *(s.arrivals_per_s for s in samples), *(float(s.waiting) for s in samples)])
    levels = [None if s.service_level is None else s.service_level * top for s in samples]
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'role="img" aria-label="arrivals, waiting callers and service level over the run">',
        f'<rect x="{_PAD}" y="{_PAD}" width="{_W - 2 * _PAD}" height="{_H - 2 * _PAD}" '
        'fill="#fafafa" stroke="#ccc"/>',
        _polyline(samples, [s.arrivals_per_s for s in samples], top, "#1f77b4"),
        _polyline(samples, [float(s.waiting) for s in samples], top, "#ff7f0e"),
        _polyline(samples, levels, top, "#2ca02c"),
        f'<text x="{_PAD}" y="{_PAD - 8}" font-size="12">left scale 0-{top:.0f} '
        '(arrivals/s, callers waiting); service level 0-100 % over the same height</text>',
        f'<text x="{_PAD}" y="{_H - 10}" font-size="12">0 s</text>',
        f'<text x="{_W - _PAD - 40}" y="{_H - 10}" font-size="12">{samples[-1].t:.0f} s</text>',
        '<text x="520" y="30" font-size="12" fill="#1f77b4">arrivals/s</text>',
        '<text x="600" y="30" font-size="12" fill="#ff7f0e">waiting</text>',
        '<text x="670" y="30" font-size="12" fill="#2ca02c">service level</text>',
        "</svg>"])


def to_html(report: Report) -> str:
    def when(t: float) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    stage_rows = "".join(
        f"<tr><td>{html.escape(s.kind)}</td><td>{html.escape(s.name)}</td><td>{s.count}</td>"
        f"<td>{s.failures}</td><td>{s.median_ms:.0f}</td><td>{s.p95_ms:.0f}</td>"
        f"<td>{s.p99_ms:.0f}</td></tr>" for s in report.stages)
    queue_rows = "".join(
        f"<tr><td>{html.escape(q.tenant)}</td><td>{html.escape(q.queue)}</td>"
        f"<td>{q.offered}</td><td>{q.answered}</td><td>{q.abandoned}</td>"
        f"<td>{q.short_abandons}</td><td>{q.callback_requests}</td>"
        f"<td>{_pct(q.service_level)}</td><td>{_pct(q.target)}</td><td>{_num(q.asa_s, ' s')}</td>"
        f"<td>{_pct(q.abandon_rate)}</td><td>{q.intervals}</td></tr>" for q in report.queues)
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(report.title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}}
th{{background:#eee}}</style>
</head><body>
<h1>{html.escape(report.title)}</h1>
<p>Shape <b>{html.escape(report.shape)}</b>, {when(report.started_at)} to {when(report.ended_at)}
({report.ended_at - report.started_at:.0f} s).</p>
<h2>Service levels the platform published (SLA topic)</h2>
<table><tr><th>tenant</th><th>queue</th><th>offered</th><th>answered</th><th>abandoned</th>
<th>short abandons</th><th>callbacks</th><th>service level</th><th>target</th><th>ASA</th>
<th>abandon rate</th><th>intervals</th></tr>{queue_rows}</table>
<h2>Over time</h2>
{chart(report.timeline)}
<h2>Locust statistics</h2>
<table><tr><th>kind</th><th>name</th><th>count</th><th>failures</th><th>median ms</th>
<th>p95 ms</th><th>p99 ms</th></tr>{stage_rows}</table>
<ul>{notes}</ul>
</body></html>
"""


def write(report: Report, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    page, data = directory / "report.html", directory / "report.json"
    page.write_text(to_html(report))
    data.write_text(json.dumps(asdict(report), indent=2))
    return page, data
