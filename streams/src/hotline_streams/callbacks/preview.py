"""Agent-first preview: a ready agent is reserved and offered the callback before the
customer is dialled (on their accepting, or at the preview's deadline). A part of the
``Scheduler`` (a mixin: it works on the scheduler's store, view and agents)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hotline_events.models import EventModel
from hotline_events.models.agents import AgentLoggedIn, AgentLoggedOut, AgentReady, WrapUpEnded
from hotline_events.models.callbacks import CallbackPreviewAnswered, CallbackPreviewOffered
from hotline_events.models.routing import RoutingDecision
from hotline_streams.callbacks import logic
from hotline_streams.callbacks.models import (
    IN_FLIGHT,
    AgentView,
    Callback,
    CallbackPolicy,
    Status,
)
from hotline_streams.callbacks.store import CallbackStore

log = logging.getLogger("hotline_streams.callbacks")


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class PreviewSteps:
    # The scheduler's state and steps these work with (``Scheduler`` defines them).
    store: CallbackStore
    instance: str
    clock: Callable[[], float]
    policy_of: Callable[[str], CallbackPolicy]
    agents: dict[tuple[str, str], AgentView]
    queue_skills: dict[tuple[str, str], frozenset[str]]
    refused: dict[str, set[str]]
    _view: dict[tuple[str, str], Callback]

    def _change(self, before: Callback, **changes: Any) -> Callback | None:
        raise NotImplementedError

    def _command(self, claimed: Callback, now: float, policy: CallbackPolicy) -> int:
        raise NotImplementedError

    def _publish(self, data: EventModel, *, step: str, attempt: int) -> None:
        raise NotImplementedError

    def _offer_preview(self, cb: Callback, attempt: int, now: float,
                       policy: CallbackPolicy) -> None:
        """Reserve a ready agent (compare-and-set: one reservation per attempt) and offer
        the callback to them; the customer is dialled on their accepting, or at the
        preview's deadline."""
        reserved = {c.agent_id for c in self._view.values()
                    if c.agent_id and c.status in IN_FLIGHT and c.callback_id != cb.callback_id}
        agent = logic.pick_agent(self.agents.values(), cb.tenant,
                                 self.queue_skills.get((cb.tenant, cb.queue)), reserved,
                                 self.refused.get(cb.callback_id, ()))
        if agent is None:
            log.info("callback %s (tenant %s, queue %s): agent-first, but no ready agent is "
                     "known to this scheduler yet; offered on a later tick", cb.callback_id,
                     cb.tenant, cb.queue)
            return
        dial_by = now + policy.preview_timeout_s
        offered = self._change(cb, status=Status.PREVIEWING, attempt=attempt,
                               claim_id=uuid.uuid4().hex, claim_owner=self.instance,
                               claim_expires=dial_by + policy.claim_ttl_s, due_at=dial_by,
                               agent_id=agent)
        if offered is None:
            return  # another scheduler reserved first
        self._publish(CallbackPreviewOffered(
            callback_id=cb.callback_id, call_id=cb.call_id, tenant=cb.tenant, queue=cb.queue,
            agent_id=agent, attempt=attempt, dial_by=_at(dial_by)),
            step=f"preview-offered/{agent}", attempt=attempt)
        log.info("callback %s: offered to agent %s (attempt %d); the customer is dialled on "
                 "accept or at %s", cb.callback_id, agent, attempt, _at(dial_by))

    def _preview_answered(self, data: CallbackPreviewAnswered) -> None:
        cb = self.store.get(data.tenant, data.callback_id)
        if cb is None:
            return
        action = logic.preview_answer(cb, data.agent_id, data.attempt, data.decision)
        if action == "dial":
            self._dial_reserved(cb, self.clock())
        elif action == "release":
            # Refusing is not a dial attempt: the callback waits for another agent.
            released = self._change(cb, status=Status.PENDING, attempt=cb.attempt - 1,
                                    claim_id=None, claim_owner=None, claim_expires=0.0,
                                    due_at=self.clock(), agent_id=None)
            if released is not None:
                self.refused.setdefault(cb.callback_id, set()).add(data.agent_id)
                log.info("callback %s: agent %s refused the preview; offered to another",
                         cb.callback_id, data.agent_id)

    def _dial_reserved(self, cb: Callback, now: float) -> int:
        """Dial the customer of a previewed callback (accepted, or the deadline passed)."""
        policy = self.policy_of(cb.tenant)
        claimed = self._change(cb, status=Status.CLAIMED, claim_owner=self.instance,
                               claim_expires=now + policy.claim_ttl_s)
        if claimed is None:
            return 0
        return self._command(claimed, now, policy)

    def answer_preview(self, tenant: str, callback_id: str, body: Any,
                       publish: Callable[[EventModel], None]) -> tuple[int, dict[str, Any]]:
        """The agent desktop's answer to a preview (``POST …/preview``): checked against
        the stored callback, then published for the schedulers (HTTP status, body)."""
        if not isinstance(body, dict) or body.get("decision") not in ("accepted", "rejected"):
            return 400, {"error": "body needs decision: accepted | rejected", "field": "decision"}
        agent, attempt = body.get("agent_id"), body.get("attempt")
        if not isinstance(agent, str) or not agent:
            return 400, {"error": "agent_id is required", "field": "agent_id"}
        cb = self.store.get(tenant, callback_id)
        if cb is None:
            return 404, {"error": f"no callback {callback_id} for tenant {tenant}",
                         "field": "callback_id"}
        attempt = attempt if isinstance(attempt, int) else cb.attempt
        if logic.preview_answer(cb, agent, attempt, body["decision"]) == "ignore":
            return 409, {"error": f"callback {callback_id} is {cb.status.value}, not offered to "
                                  f"{agent} (attempt {attempt})", "field": "agent_id"}
        publish(CallbackPreviewAnswered(callback_id=cb.callback_id, call_id=cb.call_id,
                                        tenant=tenant, agent_id=agent, attempt=attempt,
                                        decision=body["decision"]))
        return 202, {"accepted": body["decision"], "callback_id": callback_id}

    def _agent_event(self, data: Any) -> None:
        key = (data.tenant, data.agent_id)
        if isinstance(data, AgentLoggedOut):
            self.agents.pop(key, None)
            return
        agent = self.agents.get(key) or AgentView(data.agent_id, data.tenant)
        if isinstance(data, AgentLoggedIn):
            agent = AgentView(data.agent_id, data.tenant,
                              frozenset(s.skill for s in data.skills))
        elif isinstance(data, AgentReady | WrapUpEnded):
            agent = logic.agent_ready(agent, self.clock())
        else:  # not ready, wrap-up started
            agent = logic.agent_busy(agent)
        self.agents[key] = agent

    def _agent_busy(self, tenant: str, agent_id: str | None) -> None:
        agent = self.agents.get((tenant, agent_id or ""))
        if agent is not None:
            self.agents[(tenant, agent.agent_id)] = logic.agent_busy(agent)

    def _routed(self, data: RoutingDecision) -> None:
        self._agent_busy(data.tenant, data.agent_id)  # routing just offered it a call
