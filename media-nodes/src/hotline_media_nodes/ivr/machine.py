"""The IVR state machine: ``step(flow, state, input) -> (state, actions)``, pure.

The worker feeds it what happened on the call (a DTMF key, the end of a prompt, the
caller's silence running out) and carries out the actions it returns (play a
prompt, wait for a key, publish a selection, put the call in a queue, hang up).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from hotline_media_nodes.ivr.models import AGENT_KEY, Flow, LookupSpec, QueueTarget, Target
from hotline_media_nodes.lookups.logic import lookup_url

ServiceOutcome = Literal["resolved", "transferred-to-agent", "failed"]

# --- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Digit:
    key: str


@dataclass(frozen=True)
class PromptEnded:
    pass


@dataclass(frozen=True)
class NoInput:
    """The menu's timeout ran out after its prompt without a key."""


@dataclass(frozen=True)
class LookupDone:
    """A self-service lookup ended: the answer's field value, or ``None`` (it failed)."""

    answer: str | None


Input = Digit | PromptEnded | NoInput | LookupDone

# --- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Play:
    prompt: str
    menu_id: str | None = None  # set when this is a menu prompt (an IVR step)
    level: int = 0
    loop: bool = False
    then: tuple[str, ...] = ()  # prompts said right after, as one (announcement fragments)


@dataclass(frozen=True)
class WaitForKey:
    seconds: float


@dataclass(frozen=True)
class Selected:
    menu_id: str
    level: int
    option: str
    target: str
    barge_in: bool


@dataclass(frozen=True)
class Enqueue:
    queue: QueueTarget


@dataclass(frozen=True)
class ServiceDone:
    service: str
    outcome: ServiceOutcome


@dataclass(frozen=True)
class HangUp:
    reason: str


@dataclass(frozen=True)
class Lookup:
    """Fetch ``url`` (``timeout_seconds`` at most) and feed back ``LookupDone``."""

    service: str
    url: str
    field: str
    timeout_seconds: float


Action = Play | WaitForKey | Selected | Enqueue | ServiceDone | HangUp | Lookup

ServicePhase = Literal["asking", "collecting", "looking-up", "answering"]

# --- state ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IvrState:
    node: Target
    level: int = 0  # menu level of the current menu (1 = the first menu heard)
    retries: int = 0
    prompt_playing: bool = False
    # A lookup service's progress: the keyed-in id, and how the answer turned out.
    service_phase: ServicePhase | None = None
    digits: str = ""
    outcome: ServiceOutcome = "resolved"

    @property
    def stage(self) -> str:
        """Where the call is, as the abandon event names it: ``ivr`` or ``queue``."""
        return "queue" if self.node.kind == "queue" else "ivr"


class UnknownNumber(LookupError):
    pass


MAX_LEVEL = 9  # the event contract's bound on a menu level


def start(flow: Flow, dialled: str) -> tuple[IvrState, list[Action]]:
    """The first state for a call to ``dialled`` (an entry point of the flow)."""
    entry = flow.entry_for(dialled)
    if entry is None:
        raise UnknownNumber(f"{dialled} is not an entry point of {flow.tenant}")
    return _enter(flow, entry.target, 0)


def _enter(flow: Flow, target: Target, level: int) -> tuple[IvrState, list[Action]]:
    if target.kind == "menu":
        menu = flow.menus[target.name]
        lvl = min(level + 1, MAX_LEVEL)
        return (IvrState(target, lvl, 0, True), [Play(menu.prompt, menu.id, lvl)])
    if target.kind == "queue":
        queue = flow.queues[target.name]
        actions: list[Action] = [Enqueue(queue)]
        if queue.hold_prompt:
            actions.append(Play(queue.hold_prompt, loop=True))
        return IvrState(target, level), actions
    if target.kind == "service":
        service = flow.services[target.name]
        phase: ServicePhase | None = "asking" if service.lookup is not None else None
        return (IvrState(target, level, 0, True, phase), [Play(service.prompt)])
    return IvrState(target, level), [HangUp("flow-ended")]


def step(flow: Flow, state: IvrState, event: Input) -> tuple[IvrState, list[Action]]:
    node = state.node
    if node.kind in ("queue", "hangup"):
        return state, []  # waiting: keys are ignored (callback offers come later)
    if node.kind == "service":
        service = flow.services[node.name]
        if service.lookup is not None:
            return _lookup_step(flow, state, event)
        if isinstance(event, Digit) and event.key == AGENT_KEY:
            nxt, actions = _enter(flow, flow.agent_target, state.level)
            return nxt, [ServiceDone(service.id, "transferred-to-agent"), *actions]
        if isinstance(event, PromptEnded):
            nxt, actions = _enter(flow, service.then, state.level)
            return nxt, [ServiceDone(service.id, "resolved"), *actions]
        return state, []

    menu = flow.menus[node.name]
    if isinstance(event, Digit):
        if event.key == AGENT_KEY:
            nxt, actions = _enter(flow, flow.agent_target, state.level)
            return nxt, [Selected(menu.id, state.level, AGENT_KEY, str(flow.agent_target),
                                  state.prompt_playing), *actions]
        target = menu.options.get(event.key)
        if target is not None:
            nxt, actions = _enter(flow, target, state.level)
            return nxt, [Selected(menu.id, state.level, event.key, str(target), False),
                         *actions]
        return _retry(flow, state)  # a key the menu does not offer: say it again
    if isinstance(event, PromptEnded):
        if not state.prompt_playing:
            return state, []
        return replace(state, prompt_playing=False), [WaitForKey(menu.timeout_seconds)]
    if state.prompt_playing:
        return state, []  # a stale timer: the caller is hearing the prompt again
    return _retry(flow, state)


def _retry(flow: Flow, state: IvrState) -> tuple[IvrState, list[Action]]:
    menu = flow.menus[state.node.name]
    if state.retries >= menu.max_retries:
        return _enter(flow, flow.no_input_target, state.level)
    return (replace(state, retries=state.retries + 1, prompt_playing=True),
            [Play(menu.prompt, menu.id, state.level)])


def _lookup_step(flow: Flow, state: IvrState, event: Input) -> tuple[IvrState, list[Action]]:
    """Ask for an id (``#`` ends it, or the maximum length), look it up, say the answer.

    "0" is the agent only as the first key: after that it is a digit of the id.
    """
    service = flow.services[state.node.name]
    spec = service.lookup
    assert spec is not None
    phase = state.service_phase
    if phase in ("asking", "collecting"):
        if isinstance(event, Digit):
            if event.key == AGENT_KEY and not state.digits:
                nxt, actions = _enter(flow, flow.agent_target, state.level)
                return nxt, [ServiceDone(service.id, "transferred-to-agent"), *actions]
            if event.key == "#":
                return _look_up(state, service.id, spec)
            if event.key.isdigit():
                digits = state.digits + event.key
                typed = replace(state, digits=digits, service_phase="collecting")
                if len(digits) >= spec.max_digits:
                    return _look_up(typed, service.id, spec)
                return typed, [WaitForKey(spec.key_timeout_seconds)]
            return state, []
        if isinstance(event, PromptEnded) and phase == "asking":
            return (replace(state, service_phase="collecting", prompt_playing=False),
                    [WaitForKey(spec.key_timeout_seconds)])
        if isinstance(event, NoInput) and phase == "collecting":
            return _look_up(state, service.id, spec)  # the caller stopped typing
        return state, []
    if phase == "looking-up":
        if isinstance(event, LookupDone):
            prompt = spec.answers.get(event.answer) if event.answer is not None else None
            outcome: ServiceOutcome = "resolved" if prompt is not None else "failed"
            return (replace(state, service_phase="answering", prompt_playing=True,
                            outcome=outcome), [Play(prompt or spec.fallback)])
        return state, []  # keys while looking up are ignored
    if phase == "answering" and isinstance(event, PromptEnded):
        nxt, actions = _enter(flow, service.then, state.level)
        return nxt, [ServiceDone(service.id, state.outcome), *actions]
    return state, []


def _look_up(state: IvrState, service: str,
             spec: LookupSpec) -> tuple[IvrState, list[Action]]:
    if not spec.min_digits <= len(state.digits) <= spec.max_digits:
        # Too short to be an id: say the fallback without asking the backend.
        return (replace(state, service_phase="answering", prompt_playing=True,
                        outcome="failed"), [Play(spec.fallback)])
    return (replace(state, service_phase="looking-up", prompt_playing=False),
            [Lookup(service, lookup_url(spec, state.digits), spec.field,
                    spec.timeout_seconds)])
