"""Fold call events into a call's context and its caller's history (pure, idempotent)."""

from __future__ import annotations

from hotline_events.envelope import Event
from hotline_events.models.calls import CallCompleted, CallOffered, CallQueued, IvrSelection
from hotline_streams.frozen import replace
from hotline_streams.screen_pop.models import CallContext, CallerHistory, IvrChoice, PastContact

CONTEXT_TYPES = (CallOffered, IvrSelection, CallQueued, CallCompleted)
HISTORY_KEPT = 5  # previous contacts shown to the agent


def fold_context(context: CallContext | None, event: Event) -> CallContext | None:
    """The call's context after ``event`` (the same object when nothing changed)."""
    data = event.data
    if not isinstance(data, CONTEXT_TYPES):
        return context
    base = context or CallContext(call_id=data.call_id, tenant=data.tenant)
    if event.id in base.seen:
        return context
    base = replace(base, seen=(*base.seen, event.id)[-32:])
    if isinstance(data, CallOffered):
        return replace(base, caller_token=data.caller_token, dialled_number=data.dialled_number)
    if isinstance(data, IvrSelection):
        return replace(base, ivr_path=(*base.ivr_path, IvrChoice(
            data.menu_id, data.level, data.option, data.target)))
    if isinstance(data, CallQueued):
        return replace(base, tier=data.caller_tier, queue=data.queue)
    return base


def fold_history(history: CallerHistory | None, context: CallContext | None,
                 event: Event) -> CallerHistory | None:
    """The caller's history after a completed call (None without a caller token)."""
    data = event.data
    if not isinstance(data, CallCompleted) or context is None or not context.caller_token:
        return history
    base = history or CallerHistory(caller_token=context.caller_token)
    if any(c.call_id == data.call_id for c in base.contacts):
        return history
    past = PastContact(data.call_id, event.time.timestamp(), data.queue or context.queue,
                       data.agent_id, data.disposition)
    return replace(base, contacts=(*base.contacts, past)[-HISTORY_KEPT:])
