"""Fold decoded events into a call's ledger entry, and read contact outcomes off it.

Idempotent by construction, because mirrored topics and failovers replay events:
folding an event a second time (or an older event after a newer one) returns the
entry unchanged. The first outcome of a visit wins (answered, abandoned or a
callback request); a completion sets the handle time rather than adding to it.
Missing predecessors are tolerated: an answer or abandon whose ``queued`` event was
lost opens the visit at ``event time - wait``.
"""

from __future__ import annotations

from hotline_events.envelope import Event
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallCompleted, CallQueued
from hotline_streams.frozen import replace
from hotline_streams.ledger.models import CallEntry, QueueVisit
from hotline_streams.service_levels.models import ContactOutcome, Outcome

LEDGER_TYPES = (CallQueued, CallAnswered, CallAbandoned, CallCompleted, CallbackRequested)


def call_id_of(event: Event) -> str | None:
    """The call an event is about, if the ledger folds it."""
    data = event.data
    return data.call_id if isinstance(data, LEDGER_TYPES) else None


def _with_visit(entry: CallEntry, visit: QueueVisit) -> CallEntry:
    visits = list(entry.visits)
    for i, existing in enumerate(visits):
        if existing.queue == visit.queue:
            visits[i] = visit
            break
    else:
        visits.append(visit)
    return replace(entry, visits=tuple(visits))


def _ensure_visit(entry: CallEntry, queue: str | None, opened_at: float) -> tuple[CallEntry,
                                                                                QueueVisit | None]:
    visit = entry.visit(queue)
    if visit is None and queue is not None:
        visit = QueueVisit(queue=queue, enqueued_at=opened_at)
        entry = _with_visit(entry, visit)
    return entry, visit


def fold(entry: CallEntry | None, event: Event) -> CallEntry | None:
    """The entry after ``event``; the same object when the event changes nothing."""
    data = event.data
    if not isinstance(data, LEDGER_TYPES):
        return entry
    base = entry if entry is not None else CallEntry(call_id=data.call_id, tenant=data.tenant)
    at = event.time.timestamp()
    if isinstance(data, CallQueued):
        if base.visit(data.queue) is not None:
            return entry  # a replay, or the queued event arriving after its answer
        enqueued = (data.original_enqueued_at or data.enqueued_at).timestamp()
        return _with_visit(base, QueueVisit(queue=data.queue, enqueued_at=enqueued))
    if isinstance(data, CallAnswered):
        base, visit = _ensure_visit(base, data.queue, at - data.wait_seconds)
        assert visit is not None
        if visit.outcome is not None:
            return entry
        return _with_visit(base, replace(visit, outcome=Outcome.ANSWERED,
                                         wait_s=data.wait_seconds, agent_id=data.agent_id))
    if isinstance(data, CallAbandoned):
        if data.stage == "ivr":
            return entry  # never entered a queue: not offered, not an abandon of any queue
        base, visit = _ensure_visit(base, data.queue, at - data.wait_seconds)
        if visit is None or visit.outcome is not None:
            return entry
        return _with_visit(base, replace(visit, outcome=Outcome.ABANDONED,
                                         wait_s=data.wait_seconds))
    if isinstance(data, CallbackRequested):
        if data.reason != "caller-request":
            return entry  # an automatic callback after an abandon: the abandon stands
        base, visit = _ensure_visit(base, data.queue, data.original_enqueued_at.timestamp())
        assert visit is not None
        if visit.outcome is not None:
            return entry
        return _with_visit(base, replace(visit, outcome=Outcome.CALLBACK,
                                         wait_s=max(0.0, at - visit.enqueued_at)))
    # CallCompleted: handle time of the answered visit (of its queue, else the latest answered)
    handle = data.talk_seconds + data.hold_seconds + data.wrap_up_seconds
    visit = base.visit(data.queue) if data.queue is not None else next(
        (v for v in reversed(base.visits) if v.outcome is Outcome.ANSWERED), None)
    if visit is None or visit.outcome is not Outcome.ANSWERED:
        if base.completed:
            return entry
        return replace(base, completed=True)
    if base.completed and visit.handle_s == handle:
        return entry
    return replace(_with_visit(base, replace(visit, handle_s=handle)), completed=True)


def outcomes(entry: CallEntry | None) -> dict[str, ContactOutcome]:
    """The entry's finished contacts by queue."""
    if entry is None:
        return {}
    return {v.queue: ContactOutcome(call_id=entry.call_id, queue=v.queue,
                                    enqueued_at=v.enqueued_at, outcome=v.outcome,
                                    wait_s=v.wait_s, handle_s=v.handle_s)
            for v in entry.visits if v.outcome is not None}


def changes(before: CallEntry | None,
            after: CallEntry | None) -> list[tuple[ContactOutcome | None, ContactOutcome]]:
    """Outcomes that are new or different: ``(previous or None, current)`` pairs."""
    old, new = outcomes(before), outcomes(after)
    return [(old.get(queue), outcome) for queue, outcome in new.items()
            if old.get(queue) != outcome]


def replay(events: list[Event]) -> dict[str, CallEntry]:
    """Batch form: every call's entry after folding ``events`` in order."""
    entries: dict[str, CallEntry] = {}
    for event in events:
        call_id = call_id_of(event)
        if call_id is None:
            continue
        folded = fold(entries.get(call_id), event)
        if folded is not None:
            entries[call_id] = folded
    return entries
