"""Every capability's Faust agents, timers and pages, registered on the one app."""

from hotline_streams.agent_api import wiring as agent_api_wiring
from hotline_streams.app import app
from hotline_streams.health import wiring as health_wiring
from hotline_streams.intake import wiring as intake_wiring
from hotline_streams.peer_agents import wiring as peer_agents_wiring
from hotline_streams.queue_stats import wiring as queue_stats_wiring
from hotline_streams.routing import wiring as routing_wiring
from hotline_streams.tenant_stream import wiring as tenant_stream_wiring
from hotline_streams.ticks import wiring as ticks_wiring

__all__ = ["agent_api_wiring", "app", "health_wiring", "intake_wiring", "peer_agents_wiring",
           "queue_stats_wiring", "routing_wiring", "tenant_stream_wiring", "ticks_wiring"]
