"""The peers' mirrored agent and call topics, folded into their agents (``logic.after``).

Read with ``follower.TopicFollower`` (every partition from a point in time, no consumer
group): after a restart the agents are rebuilt from the topics. Agent events are read
from a shift back (a login is the start of a shift), call events from an hour back (a
call an agent is talking on or wrapping up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from hotline_events.catalog import Catalog, mirrored
from hotline_events.models.agents import AgentLoggedIn
from hotline_events.models.calls import CallQueued
from hotline_streams.follower import TopicFollower
from hotline_streams.peer_agents.logic import after, agent_of
from hotline_streams.peer_agents.models import AgentKey, PeerAgent
from hotline_streams.routing.models import AgentState

log = logging.getLogger("hotline_streams.peer_agents")

AGENTS_LOOKBACK_S = 16 * 3600.0
CALLS_LOOKBACK_S = 3600.0


class PeerAgents:
    """The agents of every peer, by (tenant, agent id): the latest login across peers.

    ``poll`` runs in one thread at a time (the worker's executor); pages read ``find``
    and ``agents`` from the event loop meanwhile: each entry is replaced whole, never
    changed in place.
    """

    def __init__(self, bootstrap: str, catalog: Catalog, peers: Iterable[str],
                 agents_lookback_s: float = AGENTS_LOOKBACK_S,
                 calls_lookback_s: float = CALLS_LOOKBACK_S) -> None:
        self.peers = tuple(peers)
        now = time.time()
        agent_topic = catalog.topic_for_type(AgentLoggedIn.TYPE).name
        call_topic = catalog.topic_for_type(CallQueued.TYPE).name
        self.followers: list[TopicFollower] = []
        for peer in self.peers:
            self.followers.append(TopicFollower(
                bootstrap, mirrored(peer, agent_topic), now - agents_lookback_s, "peer-agents"))
            self.followers.append(TopicFollower(
                bootstrap, mirrored(peer, call_topic), now - calls_lookback_s, "peer-agents"))
        self._agents: dict[AgentKey, PeerAgent] = {}
        self._polling = threading.Lock()
        self._caught_up = False

    def poll(self, budget_s: float = 0.2) -> int:
        """Fold what has arrived, for at most ``budget_s`` per topic; how many records."""
        folded = 0
        with self._polling:
            for follower in self.followers:
                deadline = time.monotonic() + budget_s
                while time.monotonic() < deadline:
                    polled = follower.poll(0)
                    if polled is None:
                        break
                    event = polled[0]
                    agent_id, tenant = agent_of(event), getattr(event.data, "tenant", None)
                    if agent_id is None or tenant is None:
                        continue
                    key = (tenant, agent_id)
                    found = after(self._agents.get(key), event)
                    if found is not None:
                        self._agents[key] = found
                    folded += 1
            # Asked here, off the event loop: it may wait for Kafka's metadata.
            self._caught_up = all(f.caught_up() for f in self.followers)
        return folded

    def caught_up(self) -> bool:
        """Every peer topic read up to where it ended when first assigned (a topic not
        mirrored yet counts as read: there is nothing in it), as of the last ``poll``."""
        return self._caught_up

    def find(self, tenant: str, agent_id: str) -> PeerAgent | None:
        """The agent as a peer last saw them, unless they logged out there."""
        found = self._agents.get((tenant, agent_id))
        return None if found is None or found.state is AgentState.LOGGED_OUT else found

    def agents(self) -> list[PeerAgent]:
        return list(self._agents.values())

    def close(self) -> None:
        with self._polling:
            for follower in self.followers:
                follower.close()
