"""ContractConsumer's server-free parts: topic checks and the bounded dedupe memory."""

from __future__ import annotations

import pytest

from hotline_events.catalog import CatalogError
from hotline_events.consumer import ContractConsumer, _SeenIds


@pytest.mark.parametrize(("topic", "message"), [
    ("cc.nope", "not in the catalog"),
    ("cc.call.events.deadletter", "is a dead-letter topic"),
])
def test_only_contract_topics_can_be_consumed(topic: str, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        ContractConsumer("127.0.0.1:1", "g", [topic])


def test_dedupe_memory_is_bounded_and_forgets_the_oldest() -> None:
    seen = _SeenIds(capacity=3)
    for event_id in ("a", "b", "c", "d"):
        seen.add(event_id)
    assert "a" not in seen and all(e in seen for e in ("b", "c", "d"))
