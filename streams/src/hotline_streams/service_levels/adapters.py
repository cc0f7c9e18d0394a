"""Between the call ledger, the interval book and the SLA event of the contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hotline_events.envelope import Event
from hotline_events.models.calls import CallQueued
from hotline_events.models.metrics import SlaInterval
from hotline_streams.config.models import TenantConfig
from hotline_streams.frozen import replace
from hotline_streams.ledger.logic import changes, fold
from hotline_streams.ledger.models import CallEntry
from hotline_streams.service_levels.intervals import Emit, SlaBook, advance, flush, record
from hotline_streams.service_levels.logic import figures
from hotline_streams.service_levels.models import (
    AbandonTreatment,
    AgentSeconds,
    IntervalFigures,
    QueueSettings,
)
from hotline_streams.service_levels.occupancy import (
    QueueSkills,
    fold_agent,
    seconds_in,
    seconds_since,
)
from hotline_streams.service_levels.windows import WINDOWS_MIN, note, prune, window, window_start
from hotline_streams.ticks.logic import advance as advance_clock

# The contract spells one treatment differently from the model's enum.
TREATMENT_NAMES = {
    AbandonTreatment.IGNORED: "ignored",
    AbandonTreatment.AGAINST: "against",
    AbandonTreatment.MET_WITHIN_T: "within-threshold-met",
}
_SLA_NAMESPACE = uuid.UUID("0b6f3d52-93a4-4f0e-8f39-3c1d2a7e5b11")


Position = tuple[int, int]  # (partition, offset) of the event in the worker's input


def step(book: SlaBook, position: Position | None, before: CallEntry | None,
         after: CallEntry | None, at: float, config: TenantConfig,
         grace_s: float, emit_provisional: bool = True) -> tuple[SlaBook, list[Emit], int]:
    """Fold a ledger change and move the watermark to ``at``: (book, emits, dropped).

    An event at or before the book's last applied position changes nothing: after a
    crash the stored book may be ahead of the committed offsets (and of the ledger
    entry, which is stored after it), and the replay must not count it twice. A
    duplicate at a new position (a replayed input, a mirror) is absorbed by the
    ledger's idempotent fold: it yields no change.
    """
    if position is not None and position[1] <= book.applied.get(position[0], -1):
        return book, [], 0
    emits: list[Emit] = []
    dropped = 0
    for previous, current in changes(before, after):
        book, out, kept = record(book, previous, current, config.settings, grace_s,
                                 emit_provisional)
        emits += out
        dropped += not kept
        queue_minutes = note(book.minutes.get(current.queue, {}), previous, current,
                             config.settings(current.queue))
        book = replace(book, minutes={**book.minutes,
                                      current.queue: prune(queue_minutes, at)})
    book, closed = advance(book, at, grace_s)
    if position is not None:
        book = replace(book, applied={**book.applied, position[0]: position[1]})
    return book, _latest(emits + closed), dropped


def _latest(emits: list[Emit]) -> list[Emit]:
    """One emit per interval: its last state (a final wins over the provisional before it)."""
    out: dict[tuple[str, float], Emit] = {}
    for emit in emits:
        out[(emit.interval.queue, emit.interval.start)] = emit
    return list(out.values())


def queue_skills(config: TenantConfig, book: SlaBook | None = None) -> QueueSkills:
    """Queues' required skills and interval lengths (whose agents staff them): the
    configured queues, and those the book learned from their calls (default settings)."""
    learned = {name: (skills, config.settings(name).interval_s)
               for name, skills in (book.learned_skills if book is not None else {}).items()
               if name not in config.queues}
    return {**learned, **{name: (queue.required_skills, queue.settings.interval_s)
                          for name, queue in config.queues.items()}}


def learn_skills(book: SlaBook, event: Event, config: TenantConfig) -> SlaBook:
    """A queued call of a queue missing from the tenant file names its required skills:
    from then on its agents' time counts for that queue's occupancy (the same book when
    nothing is new)."""
    data = event.data
    if not isinstance(data, CallQueued) or data.queue in config.queues:
        return book
    skills = frozenset(data.required_skills)
    if book.learned_skills.get(data.queue) == skills:
        return book
    return replace(book, learned_skills={**book.learned_skills, data.queue: skills})


def to_event(emit: Emit, tenant: str, site: str, settings: QueueSettings,
             agents: AgentSeconds | None = None) -> tuple[SlaInterval, str]:
    """The SLA interval struct and a deterministic event id (same state, same id).
    ``agents``: the queue's staffed and handling seconds in the interval (occupancy)."""
    interval = emit.interval
    agents = agents or AgentSeconds()
    fig = figures(interval.counts, settings, interval.start, agents.staffed_s,
                  agents.handling_s if agents.staffed_s > 0 else None)
    data = SlaInterval(
        tenant=tenant, queue=interval.queue, site=site,
        interval_start=datetime.fromtimestamp(interval.start, UTC),
        interval_seconds=interval.interval_s, final=emit.final,
        offered=fig.offered, answered=fig.answered,
        answered_within_threshold=fig.answered_within_t,
        abandoned=fig.abandoned, abandoned_within_threshold=interval.counts.abandoned_within_t,
        short_abandons=fig.short_abandons, callback_requests=fig.callbacks,
        service_level=fig.service_level, asa_seconds=fig.asa_s, abandon_rate=fig.abandon_rate,
        aht_seconds=fig.aht_s, occupancy=fig.occupancy,
        threshold_seconds=settings.threshold_s, target=settings.target,
        short_abandon_threshold_seconds=settings.short_abandon_s,
        abandon_treatment=TREATMENT_NAMES[settings.abandon_treatment],  # type: ignore[arg-type]
    )
    event_id = uuid.uuid5(_SLA_NAMESPACE, f"{tenant}/{interval.queue}/{interval.start}/"
                                          f"{emit.final}/{interval.counts}/{fig.occupancy}")
    return data, str(event_id)


def _now(book: SlaBook, event_s: float | None, wall_s: float | None) -> tuple[SlaBook, float]:
    if wall_s is None:
        now = max(event_s if event_s is not None else 0.0, book.clock.event_s)
        return replace(book, clock=replace(book.clock, event_s=now)), now
    clock, now = advance_clock(book.clock, event_s, wall_s)
    return replace(book, clock=clock), now


def on_event(book: SlaBook, entry: CallEntry | None, event: Event, config: TenantConfig,
             grace_s: float, position: Position | None = None, wall_s: float | None = None,
             emit_provisional: bool = True,
             ) -> tuple[SlaBook, CallEntry | None, list[Emit], int]:
    """One decoded event of the tenant: (book, the call's ledger entry, emits, dropped).

    ``entry`` is the ledger entry of the event's call (``ledger.logic.call_id_of``), or
    None for other events; the stream worker stores both results. ``wall_s`` is the
    input record's Kafka timestamp (time passes between events, ``ticks.logic``).
    ``emit_provisional=False`` leaves open intervals' updates to the next tick.
    """
    after = fold(entry, event)
    if position is not None and position[1] <= book.applied.get(position[0], -1):
        return book, after, [], 0
    book, now = _now(book, event.time.timestamp(), wall_s)
    book = learn_skills(book, event, config)
    occupancy = fold_agent(book.occupancy, event, queue_skills(config, book), now - grace_s)
    if occupancy is not book.occupancy:
        book = replace(book, occupancy=occupancy)
    book, emits, dropped = step(book, position, entry, after, now, config, grace_s,
                                emit_provisional)
    return book, after, emits, dropped


def agent_seconds(book: SlaBook, emit: Emit, config: TenantConfig) -> AgentSeconds:
    """The staffed and handling seconds of an emitted interval's queue, up to the book's
    clock (for ``to_event``)."""
    interval = emit.interval
    return seconds_in(book.occupancy, interval.queue, interval.start,
                      queue_skills(config, book), book.clock.event_s)


def window_figures(book: SlaBook, config: TenantConfig) -> list[tuple[int, IntervalFigures]]:
    """Every queue's sliding windows now (length in minutes, figures), occupancy included."""
    now = book.clock.event_s
    skills = queue_skills(config, book)
    return [(length, window(book.minutes.get(queue, {}), now, length, config.settings(queue),
                            seconds_since(book.occupancy, queue, window_start(now, length),
                                          skills, now)))
            for queue in sorted(set(book.minutes) | set(skills))
            for length in WINDOWS_MIN]


def on_tick(book: SlaBook, config: TenantConfig, grace_s: float, position: Position | None,
            wall_s: float) -> tuple[SlaBook, list[Emit]]:
    """Time passed without an event: intervals that ended close (final) on time, and
    open intervals changed since the last tick are emitted (provisional)."""
    if position is not None and position[1] <= book.applied.get(position[0], -1):
        return book, []
    book, now = _now(book, None, wall_s)
    book, emits, _ = step(book, position, None, None, now, config, grace_s)
    book, provisional = flush(book)
    return book, _latest(emits + provisional)
