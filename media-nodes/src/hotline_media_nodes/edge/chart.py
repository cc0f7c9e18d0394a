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


# The edge pod's emptyDir shared by Kamailio and the edge follower
# (hotline_operators.edge): the follower writes the list there and asks Kamailio to
# reload it over the RPC socket; a mounted ConfigMap would change only at the kubelet's
# next sync and Kamailio would not reread it.
RUN_DIR = "/var/run/hotline-edge"
DISPATCHER_LIST = f"{RUN_DIR}/dispatcher.list"
RPC_SOCKET = f"{RUN_DIR}/kamailio_rpc.sock"


def chart_kamailio_cfg() -> str:
    cfg = EdgeConfig(listen=f"0.0.0.0:{_SIP_PORT}", trunks=(_TRUNK,), destinations=(),
                     ping_interval_seconds=_PROBE_INTERVAL_S, children=4,
                     tcp=True,  # the pod's probes connect over TCP
                     rpc_socket=RPC_SOCKET)
    text = render_kamailio_cfg(cfg, DISPATCHER_LIST)
    for sentinel, expression in _HELM_EXPRESSIONS.items():
        if sentinel not in text:
            raise AssertionError(f"the edge renderer no longer emits {sentinel!r}; "
                                 "update hotline_media_nodes.edge.chart")
        text = text.replace(sentinel, expression)
    return text


def write_chart_file(path: Path = CHART_FILE) -> Path:
    path.write_text(chart_kamailio_cfg())
    return path
