"""Screen pop of the intake agent: call contexts and caller histories from call events."""

from __future__ import annotations

from hotline_events.envelope import Event
from hotline_streams import codec
from hotline_streams.app import call_context
from hotline_streams.durable import DurableAcks
from hotline_streams.screen_pop.logic import CONTEXT_TYPES, fold_context, fold_history
from hotline_streams.screen_pop.models import CallContext, CallerHistory

WANTED = {t.TYPE for t in CONTEXT_TYPES}


def fold_call(event: Event, partition: int, acks: DurableAcks) -> None:
    """``C/<call>``: the call's context; ``H/<caller token>``: the caller's last contacts
    (both in the call event's partition of the table)."""
    call_id = getattr(event.data, "call_id", None)
    if call_id is None:
        return
    key = b"C/" + call_id.encode()
    stored = call_context.get(key)
    before = codec.load(stored, CallContext) if stored is not None else None
    after = fold_context(before, event)
    if after is not None and after is not before:
        acks.put(call_context, partition, key, codec.dump(after))
    if after is not None and after.caller_token:
        hkey = b"H/" + after.caller_token.encode()
        stored = call_context.get(hkey)
        history = codec.load(stored, CallerHistory) if stored is not None else None
        folded = fold_history(history, after, event)
        if folded is not None and folded is not history:
            acks.put(call_context, partition, hkey, codec.dump(folded))
