"""The screen-pop agent: call contexts and caller histories from the call events."""

from __future__ import annotations

import logging
from typing import Any

from hotline_events.envelope import decode
from hotline_events.errors import ContractError
from hotline_streams import codec
from hotline_streams.app import app, call_context, call_topic, headers_of
from hotline_streams.durable import DurableAcks
from hotline_streams.screen_pop.logic import CONTEXT_TYPES, fold_context, fold_history
from hotline_streams.screen_pop.models import CallContext, CallerHistory

log = logging.getLogger("hotline_streams.screen_pop")
_WANTED = {t.TYPE for t in CONTEXT_TYPES}


@app.agent(call_topic)
async def screen_pop(stream: Any) -> None:
    """``C/<call>``: the call's context; ``H/<caller token>``: the caller's last contacts.
    (Bad records are dead-lettered by the intake agent; here they are only skipped.)"""
    acks = DurableAcks(stream := stream.noack(), app)
    async for record in stream.events():
        headers = headers_of(record.headers)
        ce_type = next((v.decode() for k, v in headers if k == "ce_type"), None)
        if ce_type in _WANTED:
            try:
                event = decode(headers, record.value)
            except ContractError:
                event = None
            call_id = getattr(event.data, "call_id", None) if event is not None else None
            if event is not None and call_id is not None:
                key = b"C/" + call_id.encode()
                stored = call_context.get(key)
                before = codec.load(stored, CallContext) if stored is not None else None
                after = fold_context(before, event)
                if after is not None and after is not before:
                    acks.put(call_context, record, key, codec.dump(after))
                if after is not None and after.caller_token:
                    hkey = b"H/" + after.caller_token.encode()
                    stored = call_context.get(hkey)
                    history = codec.load(stored, CallerHistory) if stored is not None else None
                    folded = fold_history(history, after, event)
                    if folded is not None and folded is not history:
                        acks.put(call_context, record, hkey, codec.dump(folded))
        acks.done(record)
