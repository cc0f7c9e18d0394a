"""``/healthz``, ``/readyz`` and ``/metrics`` over HTTP for a worker or a pool.

``logic`` turns a plain ``Snapshot`` into responses (unit tested); ``adapters`` serves
them from a daemon thread, reading the latest snapshot the owner's loop published.
"""

from hotline_media_nodes.health.adapters import HealthServer
from hotline_media_nodes.health.logic import Snapshot, healthz, metrics_text, readyz

__all__ = ["HealthServer", "Snapshot", "healthz", "metrics_text", "readyz"]
