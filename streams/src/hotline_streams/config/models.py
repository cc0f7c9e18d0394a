"""Plain data for a tenant's configuration: its queues, each with service-level
settings and routing rules (the existing plain models, composed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline_streams.routing.models import QueueRouting
from hotline_streams.service_levels.models import QueueSettings


@dataclass(frozen=True)
class QueueConfig:
    queue: str
    required_skills: frozenset[str]  # a contact queued without skills needs these
    settings: QueueSettings
    routing: QueueRouting


@dataclass(frozen=True)
class TenantConfig:
    tenant: str
    queues: dict[str, QueueConfig] = field(default_factory=dict)

    def settings(self, queue: str) -> QueueSettings:
        """A configured queue's settings; an unknown queue gets the defaults."""
        known = self.queues.get(queue)
        return known.settings if known is not None else QueueSettings(queue=queue)

    def routing_rules(self) -> dict[str, QueueRouting]:
        return {name: q.routing for name, q in self.queues.items()}
