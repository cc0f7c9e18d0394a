"""Plain data of interval adoption: the peer's shadow and the adoption in force."""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline_streams.ledger.models import CallEntry
from hotline_streams.service_levels.intervals import Emit, SlaBook


@dataclass(frozen=True)
class Adoption:
    """This site finishes the peer's intervals under this fencing token."""

    fencing_token: int
    since: float  # wall-clock seconds of the command


@dataclass(frozen=True)
class PeerShadow:
    """What the peer's own SLA stream would hold: its books and call ledger."""

    peer: str
    books: dict[str, SlaBook] = field(default_factory=dict)  # tenant → book
    entries: dict[str, CallEntry] = field(default_factory=dict)  # call id → ledger entry
    adoption: Adoption | None = None
    # Fencing tokens of adoptions already handed back: a replayed command (the consumer
    # re-reads the failover topic after a restart) must not adopt again.
    handed_back: frozenset[int] = frozenset()


@dataclass(frozen=True)
class TenantEmit:
    tenant: str
    emit: Emit
