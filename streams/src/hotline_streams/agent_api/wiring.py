"""Pages of the agents' desktop API and the agent-states view (Faust web)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict

from faust.web import Request, Response, View

from hotline_events.envelope import Event
from hotline_streams import codec
from hotline_streams.agent_api.logic import BadRequest, command
from hotline_streams.app import app, call_context, publish, settings, source
from hotline_streams.peer_agents import wiring as peer_agents
from hotline_streams.peer_agents.logic import restore
from hotline_streams.routing.book import RoutingBook
from hotline_streams.routing.models import Agent
from hotline_streams.routing.wiring import current_book, tenant_page
from hotline_streams.screen_pop.models import CallContext, CallerHistory

log = logging.getLogger("hotline_streams.agent_api")


def _book(tenant: str) -> RoutingBook | None:
    return current_book(tenant.encode())


def _agent(tenant: str, agent_id: str) -> Agent | None:
    book = _book(tenant)
    return book.state.agents.get(agent_id) if book is not None else None


def _agent_json(agent: Agent) -> dict[str, object]:
    return {"agent_id": agent.agent_id, "state": agent.state.value,
            "not_ready_reason": agent.not_ready_reason, "skills": agent.skills,
            "languages": sorted(agent.languages), "idle_since": agent.idle_since,
            "contact": agent.contact}


@app.page("/tenants/{tenant}/agents/{agent_id}/{action}")
class AgentActions(View):
    """POST login {skills, languages, senior} | ready | not-ready {reason} |
    wrap-up-done | logout: publishes the agent event (202); POST reconnect: an agent of
    a lost peer goes on here as the peer last saw them; GET assignment."""

    async def post(self, request: Request, tenant: str, agent_id: str,
                   action: str) -> Response:
        if action == "reconnect":
            return await self.reconnect(tenant, agent_id)
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            return self.json({"error": "body is not JSON", "field": "body",
                              "reason": str(exc)}, status=400)
        try:
            data = command(action, tenant, agent_id, body, _agent(tenant, agent_id),
                           settings.site, time.time())
        except BadRequest as bad:
            return self.json({"error": str(bad), "field": bad.field, "reason": bad.reason},
                             status=bad.status)
        event = Event(data=data, source=source)
        await publish(event)
        log.info("agent API: %s %s/%s published %s (%s)", action, tenant, agent_id,
                 event.type, event.id)
        return self.json({"published": event.type, "id": event.id}, status=202)

    async def reconnect(self, tenant: str, agent_id: str) -> Response:
        """A desktop reconnecting here: 200 if the agent is logged in here already; 202
        once the agent of a peer is logged in here in the state the peer last saw; 404
        if neither site knows them (log in); 503 while the peers' agents are read."""
        local = _agent(tenant, agent_id)
        if local is not None:
            return self.json({"agent": _agent_json(local), "restored": None})
        shadow = peer_agents.service.shadow
        peer = shadow.find(tenant, agent_id) if shadow is not None else None
        if peer is None:
            if shadow is not None and not shadow.caught_up():
                return self.json({"error": f"still reading the agents of "
                                           f"{', '.join(shadow.peers)}; retry",
                                  "field": "agent_id"}, status=503)
            return self.json({"error": f"agent {agent_id} is logged in to {tenant} neither "
                                       f"at {settings.site} nor at a peer site: log in",
                              "field": "agent_id"}, status=404)
        events = [Event(data=data, source=source) for data in restore(peer, settings.site)]
        for event in events:  # one by one: the routing state sees the login first
            await publish(event)
        log.warning("agent API: %s/%s reconnected here from %s: restored %s%s (%s)",
                    tenant, agent_id, peer.site, peer.state.value,
                    f" ({peer.reason or peer.call_id})" if peer.reason or peer.call_id else "",
                    ", ".join(e.type for e in events))
        return self.json({"restored": {"from_site": peer.site, "state": peer.state.value,
                                       "reason": peer.reason, "call_id": peer.call_id},
                          "published": [e.type for e in events]}, status=202)

    async def get(self, request: Request, tenant: str, agent_id: str,
                  action: str) -> Response:
        if action != "assignment":
            return self.json({"error": f"GET {action}: only GET assignment",
                              "field": "action"}, status=404)
        agent = _agent(tenant, agent_id)
        if agent is None:
            return self.json({"error": f"agent {agent_id} is not logged in to {tenant}",
                              "field": "agent_id"}, status=404)
        out: dict[str, object] = {"agent": _agent_json(agent), "assignment": None}
        if agent.contact is not None:
            stored = call_context.get(b"C/" + agent.contact.encode())
            context = codec.load(stored, CallContext) if stored is not None else None
            history: CallerHistory | None = None
            if context is not None and context.caller_token:
                stored = call_context.get(b"H/" + context.caller_token.encode())
                history = codec.load(stored, CallerHistory) if stored is not None else None
            out["assignment"] = {
                "call_id": agent.contact, "state": agent.state.value,
                "since": agent.busy_since,
                "tier": context.tier if context else None,
                "queue": context.queue if context else None,
                "caller_token": context.caller_token if context else None,
                "dialled_number": context.dialled_number if context else None,
                "ivr_path": [asdict(c) for c in context.ivr_path] if context else [],
                "previous_contacts": [asdict(c) for c in history.contacts
                                      if c.call_id != agent.contact] if history else [],
            }
        return self.json(out)


@tenant_page("/tenants/{tenant}/agents")
async def agents_view(web: View, request: Request, tenant: str) -> Response:
    """Every logged-in agent's state (JSON for the wallboard)."""
    book = _book(tenant)
    agents = sorted(book.state.agents.values(), key=lambda a: a.agent_id) if book else []
    return web.json({"tenant": tenant, "agents": [_agent_json(a) for a in agents]})
