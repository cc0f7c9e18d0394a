"""The peer site's waiting callers, from its call and identity topics as MirrorMaker 2
mirrors them here (``<peer>.cc.call.events``, ``<peer>.cc.call.caller-identity``).

Read with ``follower.TopicFollower`` (every partition from a point in time,
no consumer group): after a restart the shadow is rebuilt from the topics, so there
is no offset to lose. Folded with ``ownership.waiting_after``.
"""

from __future__ import annotations

import logging
import time

from hotline_events.catalog import Catalog, mirrored
from hotline_events.models.calls import CallQueued
from hotline_events.models.identity import CallerIdentified
from hotline_streams.callbacks import ownership
from hotline_streams.callbacks.models import WaitingCaller
from hotline_streams.follower import TopicFollower

log = logging.getLogger("hotline_streams.callbacks")

NUMBERS_KEPT_S = 6 * 3600.0  # a caller's number, kept this long after it was seen


class PeerQueues:
    def __init__(self, bootstrap: str, catalog: Catalog, peer: str,
                 lookback_s: float = 3600.0) -> None:
        self.peer = peer
        since = time.time() - lookback_s
        self.calls = TopicFollower(
            bootstrap, mirrored(peer, catalog.topic_for_type(CallQueued.TYPE).name), since,
            "callbacks-peer")
        self.identities = TopicFollower(
            bootstrap, mirrored(peer, catalog.topic_for_type(CallerIdentified.TYPE).name), since,
            "callbacks-peer")
        self.waiting: dict[str, WaitingCaller] = {}
        self._numbers: dict[str, tuple[str, str, float]] = {}  # call → (number, token, seen)
        self._next_prune = time.monotonic() + 60.0

    @property
    def numbers(self) -> dict[str, tuple[str, str]]:
        return {call: (number, token) for call, (number, token, _seen) in self._numbers.items()}

    def poll(self, budget_s: float = 0.1) -> int:
        """Fold what has arrived, for at most ``budget_s`` per topic (a peer at its peak
        publishes faster than one record per tick); returns how many records."""
        folded = 0
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            polled = self.identities.poll(0)
            if polled is None:
                break
            data = polled[0].data
            if isinstance(data, CallerIdentified):
                self._numbers[data.call_id] = (data.caller_number, data.caller_token, polled[1])
                folded += 1
        deadline = time.monotonic() + budget_s
        while time.monotonic() < deadline:
            polled = self.calls.poll(0)
            if polled is None:
                break
            data = polled[0].data
            call_id = getattr(data, "call_id", None)
            if call_id is None:
                continue
            after = ownership.waiting_after(self.waiting.get(call_id), data)
            if after is None:
                self.waiting.pop(call_id, None)
            else:
                self.waiting[call_id] = after
            folded += 1
        if time.monotonic() >= self._next_prune:
            horizon = time.time() - NUMBERS_KEPT_S
            self._numbers = {c: n for c, n in self._numbers.items()
                             if n[2] >= horizon or c in self.waiting}
            self._next_prune = time.monotonic() + 60.0
        return folded

    def caught_up(self) -> bool:
        """Both topics read up to where they ended when first assigned (a topic not
        mirrored yet counts as read: there is nothing in it)."""
        return self.calls.caught_up() and self.identities.caught_up()

    def close(self) -> None:
        self.calls.close()
        self.identities.close()
