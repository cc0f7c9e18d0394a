"""Errors of the contract."""

from __future__ import annotations

import re

_PATH = re.compile(r" - at `(?P<path>[^`]+)`$")
_MISSING = re.compile(r"missing required field `(?P<field>[^`]+)`")


class ContractError(ValueError):
    """A record or event does not follow the contract.

    ``event_type`` is the CloudEvents type when known; ``field`` is the JSON path of
    the offending field (``$.wait_seconds``) when one is to blame.
    """

    def __init__(self, message: str, *, event_type: str | None = None,
                 field: str | None = None) -> None:
        prefix = f"{event_type}: " if event_type else ""
        super().__init__(prefix + message)
        self.event_type = event_type
        self.field = field
        self.reason = message

    @classmethod
    def from_validation(cls, event_type: str, message: str) -> ContractError:
        """Wrap a msgspec error, lifting the field path out of its text."""
        field: str | None = None
        path = _PATH.search(message)
        missing = _MISSING.search(message)
        if missing:
            base = path.group("path") if path else "$"
            field = f"{base}.{missing.group('field')}"
        elif path:
            field = path.group("path")
        return cls(message, event_type=event_type, field=field)


class CatalogError(ValueError):
    """The topic catalog is inconsistent; the message lists every problem found."""
