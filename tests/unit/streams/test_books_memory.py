"""The books' building blocks: the recent-ids memory and the cheap ``replace``."""

from __future__ import annotations

import dataclasses

import pytest

from hotline_streams import codec
from hotline_streams.frozen import replace
from hotline_streams.recent import GENERATION, Recent, holds, remember
from hotline_streams.routing.book import RoutingBook, new_book
from hotline_streams.routing.models import OverflowRule, QueueRouting
from hotline_streams.service_levels.models import AgentClock


def _filled(count: int, cap: int) -> Recent:
    recent: Recent = ()
    for n in range(count):
        recent = remember(recent, f"id-{n}", cap)
    return recent


def test_the_last_ids_are_held_and_the_oldest_generation_goes_whole() -> None:
    cap = 4 * GENERATION
    recent = _filled(cap, cap)
    assert all(holds(recent, f"id-{n}") for n in range(cap))
    recent = remember(recent, "one-more", cap)
    # the oldest generation went: between cap - GENERATION and cap ids are remembered
    assert not holds(recent, "id-0") and not holds(recent, f"id-{GENERATION - 1}")
    assert holds(recent, f"id-{GENERATION}") and holds(recent, "one-more")
    assert sum(len(g) for g in recent) == cap - GENERATION + 1


def test_remembering_an_id_twice_changes_nothing() -> None:
    recent = _filled(10, 256)
    assert remember(recent, "id-3", 256) is recent


def test_a_memory_smaller_than_a_generation_still_holds_the_newest() -> None:
    recent = _filled(GENERATION + 1, 1)
    assert holds(recent, f"id-{GENERATION}") and not holds(recent, "id-0")


def test_an_old_checkpoint_without_the_memories_still_loads() -> None:
    """Books checkpointed before the memories were generations had ``seen`` and
    ``finished`` tuples of ids; they load with empty memories (ids are only for
    skipping replays) instead of stopping the worker."""
    old = codec.dump({"state": {"tenant": "acme"}, "seen": ["e1"], "finished": ["c1"]})
    book = codec.load(old, RoutingBook)
    assert book.seen_ids == () and book.finished_calls == ()
    assert book.state.tenant == "acme"


def test_replace_copies_and_changes_like_dataclasses_replace() -> None:
    clock = AgentClock(skills=frozenset({"billing"}), since=10.0)
    changed = replace(clock, since=20.0, handling=True)
    assert changed == dataclasses.replace(clock, since=20.0, handling=True)
    assert clock.since == 10.0  # the original is untouched
    book = new_book("acme")
    assert replace(book, decisions=3).state is book.state


def test_replace_refuses_an_unknown_field() -> None:
    with pytest.raises(TypeError, match="no field"):
        replace(AgentClock(skills=frozenset(), since=0.0), sicne=1.0)


def test_replace_of_a_class_that_checks_itself_still_checks() -> None:
    rules = QueueRouting(queue="general")
    late_first = (OverflowRule(after_s=120, required_skills=frozenset()),
                  OverflowRule(after_s=60, required_skills=frozenset()))
    with pytest.raises(ValueError, match="increasing after_s"):
        replace(rules, overflow=late_first)
