"""Traffic shares and the edge's dispatcher list, as pure functions of the site.

The dispatcher.list format lives once, in hotline_media_nodes.edge (the renderer the
local edge and the chart use); this module only chooses the destinations. A failed
peer's workers leave the set (no INVITE waits 2 s on a dead worker before the next
one is tried), this site's own workers come first, and the failback restores them.
"""

from __future__ import annotations

from collections.abc import Collection

from hotline_media_nodes.edge import Destination, EdgeConfig, render_dispatcher_list
from hotline_operators.site.meta import owner_reference
from hotline_operators.site.models import EdgeSpec, SiteSpec

OWN_PRIORITY = 10  # this site's workers before the peers'
PEER_PRIORITY = 0
SPLIT_ANNOTATION = "hotline.dev/traffic-split"
TOKEN_ANNOTATION = "hotline.dev/fencing-token"


def base_shares(site: str, share: int, peers: Collection[str]) -> dict[str, int]:
    """Normal-operation shares in percent: this site's, the rest spread over the peers."""
    rest = 100 - share
    result = {site: share}
    for i, peer in enumerate(sorted(peers)):
        result[peer] = rest // len(peers) + (1 if i < rest % len(peers) else 0)
    return result


def shares_after(site: str, share: int, peers: Collection[str],
                 failed: Collection[str]) -> dict[str, int]:
    """Shares with the failed peers' moved to this site."""
    shares = base_shares(site, share, peers)
    moved = sum(shares[p] for p in failed if p in shares)
    result = {s: (0 if s in failed else v) for s, v in shares.items()}
    result[site] += moved
    return result


def edge_destinations(edge: EdgeSpec, site: str,
                      failed: Collection[str]) -> tuple[Destination, ...]:
    return tuple(
        Destination(address=d.address, name=d.name, max_load=d.max_load,
                    priority=OWN_PRIORITY if d.site == site else PEER_PRIORITY)
        for d in edge.destinations if d.site not in failed)


def dispatcher_list(edge: EdgeSpec, site: str, failed: Collection[str]) -> str:
    # The renderer takes a whole EdgeConfig; only its destinations reach
    # dispatcher.list (the listener and trunk allow-list belong to kamailio.cfg).
    config = EdgeConfig(listen="0.0.0.0:5060", trunks=("0.0.0.0/32",),
                        destinations=edge_destinations(edge, site, failed))
    return render_dispatcher_list(config)


def split_text(shares: dict[str, int]) -> str:
    return ",".join(f"{s}={v}" for s, v in sorted(shares.items()))


def dispatcher_config_map(spec: SiteSpec, edge: EdgeSpec, failed: Collection[str],
                          token: int) -> dict[str, object]:
    """The edge's ConfigMap as far as the operator owns it (server-side apply: one key).

    The chart may own the rest of the ConfigMap (kamailio.cfg); applying only this
    key and two annotations leaves that alone. Owned by the site: the garbage
    collector removes it with the site (nothing else writes it).
    """
    shares = shares_after(spec.site, spec.traffic_share, spec.peers, failed)
    return {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": edge.config_map, "namespace": spec.namespace,
                     "labels": {"hotline.dev/site": spec.site},
                     "ownerReferences": [owner_reference(spec)],
                     "annotations": {SPLIT_ANNOTATION: split_text(shares),
                                     TOKEN_ANNOTATION: str(token)}},
        "data": {edge.key: dispatcher_list(edge, spec.site, failed)},
    }
