"""Publishing call events when Kafka may be down: a bounded, ordered buffer.

A media node must keep taking calls while Kafka is unreachable. Events wait in a
bounded buffer (``logic.EventBuffer``: when full, the *oldest* waiting event is
dropped and counted, so the newest state of each call survives), are handed to the
idempotent producer in order a small window at a time, and drain in order when the
brokers return. ``BufferedPublisher.status`` says whether the node is degraded.
"""

from hotline_media_nodes.publishing.adapters import BufferedPublisher
from hotline_media_nodes.publishing.logic import EventBuffer, LinkStatus, link_status

__all__ = ["BufferedPublisher", "EventBuffer", "LinkStatus", "link_status"]
