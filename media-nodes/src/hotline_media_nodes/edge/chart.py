"""The Helm chart's Kamailio config, rendered by the same code as the local edge.

Helm cannot run Python, so the config is rendered once with sentinel values that are
then swapped for Helm expressions. ``hotline-media-nodes edge-chart-config`` writes
``charts/hotline/files/kamailio.cfg``; a test fails when that file is stale.
"""

from __future__ import annotations

from pathlib import Path

from hotline_media_nodes.edge.render import EdgeConfig, render_kamailio_cfg

CHART_FILE = Path(__file__).resolve().parents[4] / "charts" / "hotline" / "files" / "kamailio.cfg"

# Values no real release uses, each standing for one chart value.
_SIP_PORT = 65001
_PROBE_INTERVAL_S = 59
_TRUNK = "192.0.2.254/32"

_HELM_EXPRESSIONS = {
    f":{_SIP_PORT}": ":{{ .Values.mediaNodes.network.sipPort }}",
    f'"ds_ping_interval", {_PROBE_INTERVAL_S})':
        '"ds_ping_interval", {{ .Values.edge.probeIntervalSeconds }})',
    # The allow-list check: one is_in_subnet per CIDR (see _helpers.tpl).
    f'is_in_subnet("$si", "{_TRUNK}")': '{{ include "hotline.edge.trunkCheck" . }}',
}


def chart_kamailio_cfg() -> str:
    cfg = EdgeConfig(listen=f"0.0.0.0:{_SIP_PORT}", trunks=(_TRUNK,), destinations=(),
                     ping_interval_seconds=_PROBE_INTERVAL_S, children=4,
                     tcp=True)  # the pod's probes connect over TCP
    text = render_kamailio_cfg(cfg, "/etc/kamailio/dispatcher.list")
    for sentinel, expression in _HELM_EXPRESSIONS.items():
        if sentinel not in text:
            raise AssertionError(f"the edge renderer no longer emits {sentinel!r}; "
                                 "update hotline_media_nodes.edge.chart")
        text = text.replace(sentinel, expression)
    return text


def write_chart_file(path: Path = CHART_FILE) -> Path:
    path.write_text(chart_kamailio_cfg())
    return path
