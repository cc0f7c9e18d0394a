"""The SIP edge in front of the workers: Kamailio's dispatcher, rendered from data.

The destination sets (which workers take a site's calls) live in one place,
``EdgeConfig.destinations``; ``render_dispatcher_list`` and ``render_kamailio_cfg``
are pure functions of it, so later work (the operator, on site failover) rewrites
only that data.
"""

from hotline_media_nodes.edge.render import (
    Destination,
    EdgeConfig,
    render_dispatcher_list,
    render_kamailio_cfg,
)

__all__ = ["Destination", "EdgeConfig", "render_dispatcher_list", "render_kamailio_cfg"]
