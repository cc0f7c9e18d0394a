"""/healthz, /readyz and /metrics answers from a snapshot."""

from __future__ import annotations

from hotline_media_nodes.health import Snapshot, healthz, metrics_text, readyz


def test_not_ready_before_registration_or_while_draining() -> None:
    assert readyz(Snapshot("starting"))[0] == 503
    assert readyz(Snapshot("draining", capacity=4))[0] == 503
    assert readyz(Snapshot("ready", capacity=4)) == (200, "ready\n")
    assert readyz(Snapshot("ready", capacity=0, workers=0))[0] == 503


def test_kafka_down_is_degraded_but_alive_and_ready() -> None:
    s = Snapshot("ready", capacity=4, degraded="Kafka brokers unreachable; 3 event(s) buffered")
    assert healthz(s) == (200, "degraded: Kafka brokers unreachable; 3 event(s) buffered\n")
    status, body = readyz(s)
    assert status == 200 and body.startswith("ready, degraded: Kafka")
    assert healthz(Snapshot("ready")) == (200, "ok\n")


def test_metrics_are_prometheus_text_with_labels() -> None:
    text = metrics_text(Snapshot("draining", active_calls=2, capacity=4, calls_total=9,
                                 events_buffered=5, degraded="x"),
                        {"media_node": "mn-0.w1", "site": "site-a"})
    samples = dict(line.rsplit(" ", 1) for line in text.splitlines()
                   if not line.startswith("#"))
    lab = '{media_node="mn-0.w1",site="site-a"}'
    assert samples[f"hotline_media_active_calls{lab}"] == "2"
    assert samples[f"hotline_media_capacity_calls{lab}"] == "4"
    assert samples[f"hotline_media_calls_total{lab}"] == "9"
    assert samples[f"hotline_media_events_buffered{lab}"] == "5"
    assert samples[f"hotline_media_draining{lab}"] == "1"
    assert samples[f"hotline_media_degraded{lab}"] == "1"
    assert samples[f"hotline_media_ready{lab}"] == "0"
    assert "# TYPE hotline_media_calls_total counter" in text
