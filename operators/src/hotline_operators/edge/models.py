"""Plain data of the edge follower."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FollowerSettings:
    namespace: str
    config_map: str  # spec.edge.dispatcherConfigMap of the site
    key: str  # spec.edge.dispatcherKey
    list_path: Path  # the file Kamailio's dispatcher module reads (list_file)
    rpc_socket: Path  # Kamailio's jsonrpcs dgram_socket
    # The list Kamailio starts with while the operator has not written its ConfigMap
    # yet (the chart's, this site's own media nodes): an edge never waits on the operator.
    initial: Path | None = None
    # Short watches: a silently stalled watch is reopened within this (resuming from
    # the last resourceVersion, so nothing is missed).
    watch_timeout_s: int = 10
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    rpc_timeout_s: float = 2.0


@dataclass(frozen=True)
class ListCheck:
    """Whether a ConfigMap's dispatcher list may replace the running one, and why not."""

    text: str | None  # the list to write, or None to keep the running one
    destinations: int
    problem: str | None = None
