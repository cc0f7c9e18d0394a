"""The peers' agents on the stream worker: followed off the event loop, and agents who
logged in at a peer later than here logged out here (only with ``HOTLINE_PEER_SITES``)."""

from __future__ import annotations

import asyncio
import logging

from hotline_events.envelope import Event
from hotline_streams.app import app, catalog, publish, settings, source
from hotline_streams.peer_agents.bus_consume import PeerAgents
from hotline_streams.peer_agents.logic import logout_for_move, moved_away
from hotline_streams.routing import wiring as routing

log = logging.getLogger("hotline_streams.peer_agents")

POLL_S = 0.5


class PeerAgentsService:
    """The shadow of the peers' agents, and the logouts of agents who moved to a peer."""

    def __init__(self, peers: tuple[str, ...]) -> None:
        self.peers = peers
        self._shadow: PeerAgents | None = None
        self._moved: set[str] = set()  # logouts published (their ids)

    @property
    def shadow(self) -> PeerAgents | None:
        """None on a worker without peers."""
        if self._shadow is None and self.peers:
            # Built on first use, not on import: its consumers connect to Kafka.
            self._shadow = PeerAgents(settings.bootstrap, catalog, self.peers)
        return self._shadow

    async def step(self) -> None:
        shadow = self.shadow
        if shadow is None:
            return
        await asyncio.get_running_loop().run_in_executor(None, shadow.poll)
        for peer_agent in shadow.agents():
            # Only the books this worker's tenant stream holds: their owner logs out.
            book = routing.books.get(peer_agent.tenant.encode())
            local = book.state.agents.get(peer_agent.agent_id) if book is not None else None
            if local is None or not moved_away(local, peer_agent):
                continue
            data, event_id = logout_for_move(local, peer_agent)
            if event_id in self._moved:
                continue
            await publish(Event(data=data, source=source, id=event_id))
            self._moved.add(event_id)
            log.warning("agent %s/%s logged in at %s after logging in here: logged out here "
                        "(the latest login wins; %s takes their calls)", peer_agent.tenant,
                        peer_agent.agent_id, peer_agent.site, peer_agent.site)

    def close(self) -> None:
        if self._shadow is not None:
            self._shadow.close()


service = PeerAgentsService(settings.peer_sites)


@app.timer(interval=POLL_S)  # type: ignore[untyped-decorator]
async def follow_peer_agents() -> None:
    await service.step()


async def _close(sender: object, **kwargs: object) -> None:
    service.close()


app.on_before_shutdown.connect(_close)  # type: ignore[arg-type]  # faust types it loosely
