"""Hotline's event contract: typed events, the CloudEvents envelope, the topic catalog.

Producers publish structs (``EventProducer``); consumers get validated ``Event`` s
(``ContractConsumer``); topic names and keys come from ``events/catalog.yaml``.
"""

from hotline_events.envelope import Event, decode, encode, source
from hotline_events.errors import CatalogError, ContractError
from hotline_events.models import ALL_TYPES, REGISTRY, EventModel

__all__ = ["ALL_TYPES", "REGISTRY", "CatalogError", "ContractError", "Event", "EventModel",
           "decode", "encode", "source"]
