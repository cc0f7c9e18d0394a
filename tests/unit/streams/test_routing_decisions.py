"""Routing choices for hand-made cases: tiers, proficiency, idle time, overflow, RONA."""

from __future__ import annotations

import pytest

from hotline_streams.routing.logic import (
    RONA_REASON,
    answered,
    apply,
    decide,
    ring_no_answer,
    with_agents,
)
from hotline_streams.routing.models import (
    Agent,
    AgentState,
    CallerTier,
    Contact,
    OverflowRule,
    QueueRouting,
    RoutingState,
)

NOW = 10_000.0


def agent(agent_id: str, skills: dict[str, int], idle_since: float = 0.0,
          state: AgentState = AgentState.READY, languages: tuple[str, ...] = ()) -> Agent:
    return Agent(agent_id, "acme", state, skills, frozenset(languages), idle_since)


def contact(call_id: str, skills: set[str], waited: float, tier: CallerTier = CallerTier.STANDARD,
            queue: str = "billing", language: str | None = None) -> Contact:
    return Contact(call_id, "acme", queue, frozenset(skills), NOW - waited, tier,
                   language=language)


def state(contacts: list[Contact], agents: list[Agent]) -> RoutingState:
    return RoutingState("acme", {c.call_id: c for c in contacts}, {a.agent_id: a for a in agents})


def pairs(s: RoutingState, rules: dict[str, QueueRouting] | None = None) -> list[tuple[str, str]]:
    return [(d.call_id, d.agent_id) for d in decide(s, rules or {}, NOW)]


def test_vip_goes_first_even_if_it_arrived_later() -> None:
    s = state([contact("std", {"billing"}, 100), contact("vip", {"billing"}, 5, CallerTier.VIP)],
              [agent("a1", {"billing": 3})])
    assert pairs(s) == [("vip", "a1")]


def test_longest_waiting_first_within_a_tier() -> None:
    s = state([contact("new", {"billing"}, 5), contact("old", {"billing"}, 50)],
              [agent("a1", {"billing": 3})])
    assert pairs(s) == [("old", "a1")]


def test_best_proficiency_then_longest_idle() -> None:
    agents = [agent("novice", {"billing": 2}, idle_since=0),
              agent("expert-recent", {"billing": 5}, idle_since=NOW - 10),
              agent("expert-idle", {"billing": 5}, idle_since=NOW - 300)]
    assert pairs(state([contact("c1", {"billing"}, 1)], agents)) == [("c1", "expert-idle")]


def test_an_agent_needs_every_required_skill_and_the_language() -> None:
    agents = [agent("a1", {"billing": 5}), agent("a2", {"billing": 1, "roaming": 1},
                                                 languages=("de",)),
              agent("a3", {"billing": 3, "roaming": 3}, languages=("en",))]
    c = contact("c1", {"billing", "roaming"}, 1, language="de")
    assert pairs(state([c], agents)) == [("c1", "a2")]


def test_not_ready_and_busy_agents_get_nothing() -> None:
    agents = [agent("a1", {"billing": 5}, state=AgentState.NOT_READY),
              agent("a2", {"billing": 5}, state=AgentState.WRAP_UP)]
    assert pairs(state([contact("c1", {"billing"}, 1)], agents)) == []


def test_overflow_accepts_secondary_skills_only_after_its_wait() -> None:
    rules = {"billing": QueueRouting("billing", overflow=(
        OverflowRule(60, frozenset({"general"})),
        OverflowRule(120, frozenset({"sales"}), to_queue="sales")))}
    generalist = agent("g1", {"general": 4})
    seller = agent("s1", {"sales": 4})
    assert pairs(state([contact("c1", {"billing"}, 59)], [generalist, seller]), rules) == []
    assert pairs(state([contact("c1", {"billing"}, 60)], [generalist, seller]), rules) == [
        ("c1", "g1")]
    only_sales = state([contact("c1", {"billing"}, 120)], [seller])
    decision = decide(only_sales, rules, NOW)
    assert [(d.call_id, d.agent_id, d.via_overflow) for d in decision] == [("c1", "s1", "sales")]


def test_no_agent_gets_two_contacts_and_no_contact_two_agents() -> None:
    contacts = [contact(f"c{i}", {"billing"}, 10 + i) for i in range(5)]
    agents = [agent(f"a{i}", {"billing": 3}, idle_since=i) for i in range(3)]
    s = state(contacts, agents)
    decisions = decide(s, {}, NOW)
    assert len(decisions) == 3
    assert len({d.agent_id for d in decisions}) == 3
    assert len({d.call_id for d in decisions}) == 3
    for d in decisions:
        s = apply(s, d)
    assert decide(s, {}, NOW) == [], "reserved agents and offered contacts are out"
    replay = apply(s, decisions[0])
    assert replay is s, "a replayed decision changes nothing"


def test_ring_no_answer_sends_the_agent_not_ready_and_the_contact_to_the_head() -> None:
    s = state([contact("first", {"billing"}, 30), contact("older", {"billing"}, 40)],
              [agent("a1", {"billing": 3}), agent("a2", {"billing": 2})])
    for d in decide(s, {}, NOW):
        s = apply(s, d)
    assert s.contacts["older"].offered_to == "a1"
    s = ring_no_answer(s, "older")
    assert s.agents["a1"].state is AgentState.NOT_READY
    assert s.agents["a1"].not_ready_reason == RONA_REASON
    s = answered(s, "first")
    assert s.agents["a2"].state is AgentState.BUSY
    newcomer = contact("newcomer", {"billing"}, 500)  # waited longer, but no RONA
    s.contacts["newcomer"] = newcomer
    s = with_agents(s, {"a3": agent("a3", {"billing": 3})})  # keeps the free-agent index
    assert pairs(s) == [("older", "a3")]


def test_overflow_rules_must_be_increasing() -> None:
    with pytest.raises(ValueError, match="queue billing: overflow"):
        QueueRouting("billing", overflow=(OverflowRule(120, frozenset()),
                                          OverflowRule(60, frozenset())))


def test_the_free_agent_index_follows_every_change_and_is_rebuilt_from_a_checkpoint() -> None:
    """Decisions read the index, not the agents: it must equal a fresh build after each
    change, and a checkpointed state (which does not store it) must come back with it."""
    from hotline_streams import codec
    from hotline_streams.routing.models import free_index

    s = state([contact("c1", {"billing"}, 30), contact("c2", {"billing"}, 20)],
              [agent("a1", {"billing": 3}), agent("a2", {"billing": 2}),
               agent("a3", {"billing": 1}), agent("a5", {"billing": 1}, idle_since=-900.0)])

    def ids(st: RoutingState) -> set[str]:
        assert st.free == free_index(st.agents.values())
        return {agent_id for group in st.free.values() for _, agent_id in group}

    assert ids(s) == {"a1", "a2", "a3", "a5"}
    for d in decide(s, {}, NOW):
        s = apply(s, d, NOW)
    assert ids(s) == {"a3", "a5"}
    s = ring_no_answer(s, "c1")
    s = answered(s, "c2")
    s = with_agents(s, {"a3": None, "a4": agent("a4", {"billing": 5})})
    assert ids(s) == {"a4", "a5"}
    assert "free" not in codec.load(codec.dump(s), dict)  # derived, not checkpointed
    back = codec.load(codec.dump(s), RoutingState)
    assert back.free == s.free


def test_decide_over_the_index_equals_the_plain_definition() -> None:
    """Many profiles, languages, equal idle times: the index's pick and candidate count
    are ``best_agent``'s over all free agents."""
    import random

    from hotline_streams.routing.logic import best_agent

    rng = random.Random(7)
    agents = [agent(f"a{n:03d}", {s: rng.randint(1, 5) for s in rng.sample(
        ["billing", "cards", "general"], rng.randint(1, 3))},
        idle_since=rng.choice([0.0, 10.0, 20.0]),
        languages=tuple(rng.sample(["en", "fr", "de"], 2))) for n in range(120)]
    s = state([], agents)
    for skills in ({"billing"}, {"cards", "general"}, {"billing", "cards", "general"}):
        for language in (None, "fr"):
            c = contact("c", skills, 5, language=language)
            expected, count = best_agent(s.agents.values(), frozenset(skills), language)
            s2 = RoutingState("acme", {"c": c}, s.agents)
            got = decide(s2, {}, NOW)
            assert expected is not None
            assert (got[0].agent_id, got[0].candidates) == (expected.agent_id, count)
