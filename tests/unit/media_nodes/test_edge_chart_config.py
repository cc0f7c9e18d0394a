"""The chart's Kamailio config is the edge renderer's output, not a second copy."""

from __future__ import annotations

from hotline_media_nodes.edge.chart import CHART_FILE, chart_kamailio_cfg


def test_the_chart_file_is_what_the_renderer_produces() -> None:
    assert CHART_FILE.read_text() == chart_kamailio_cfg(), (
        "regenerate with: uv run hotline-media-nodes edge-chart-config")


def test_every_chart_value_reaches_the_config() -> None:
    text = chart_kamailio_cfg()
    for expression in (".Values.mediaNodes.network.sipPort", ".Values.edge.probeIntervalSeconds",
                       '"hotline.edge.trunkCheck"'):
        assert expression in text
    assert "listen=tcp:" in text, "the pod's tcpSocket probes need a TCP listener"
