"""Loads a tenant's IVR flow from YAML into ``ivr.models``; errors name the field.

Structure (see ``tests/unit/media_nodes/flows/acme.yaml`` for a full example)::

    tenant: acme-bank
    voice: en                       # espeak-ng voice for the prompts
    prompts: {welcome: "Welcome ...", ...}
    menus:
      main: {prompt: welcome, timeout_seconds: 5, max_retries: 2,
             options: {"1": menu:billing, "2": queue:cards, "3": service:balance}}
    services:
      balance: {prompt: balance, then: hangup}
      order: {prompt: ask_order, then: hangup,        # self-service lookup over HTTP
              lookup: {url: "http://orders/api/{digits}", field: status, fallback: sorry,
                       answers: {shipped: shipped}, min_digits: 4, max_digits: 12,
                       timeout_seconds: 2, key_timeout_seconds: 5}}
    queues:
      billing: {skills: [billing], priority: 0, hold_prompt: hold,
                announce_every_seconds: 45,           # position + estimated wait
                callback: {offer_above_seconds: 300, prompt: offer, confirm: confirmed,
                           promised_within_seconds: 3600}}   # "press 1 ..."
    agent: queue:general            # "0" from any prompt
    no_input: queue:general         # after a menu's retries time out (default: hangup)
    entry_points:
      - {number: "800100", target: menu:main}
      - {number: "800101", target: service:balance}   # speed dial: no menus
    survey: {question_id: satisfaction, prompt: survey, thanks: thanks,
             timeout_seconds: 8}                      # optional: after the agent hangs up
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hotline_media_nodes.ivr.announce import announcement_prompts
from hotline_media_nodes.ivr.models import (
    AGENT_KEY,
    DIGITS,
    CallbackOffer,
    EntryPoint,
    Flow,
    LookupSpec,
    Menu,
    QueueTarget,
    SelfService,
    Survey,
    Target,
)

_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
_TARGET = re.compile(r"^(menu|queue|service):([a-z0-9][a-z0-9._-]{0,62})$")


class FlowError(ValueError):
    """A flow file is not valid; ``field`` is the path of the offending field."""

    def __init__(self, field: str, problem: str, source: str = "") -> None:
        self.field = field
        self.problem = problem
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{field}: {problem}")


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FlowError(field, f"must be a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise FlowError(f"{field}.{key}", "keys must be strings (quote DTMF keys: \"1\")")
    return value


def _str(value: Any, field: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FlowError(field, "must be a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise FlowError(field, f"{value!r} does not match {pattern.pattern}")
    return value


def _number(value: Any, field: str, default: float, low: float, high: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FlowError(field, "must be a number")
    if not low <= value <= high:
        raise FlowError(field, f"{value} is outside {low}..{high}")
    return float(value)


def _target(value: Any, field: str) -> Target:
    text = _str(value, field)
    if text == "hangup":
        return Target("hangup")
    match = _TARGET.match(text)
    if match is None:
        raise FlowError(field, f"{text!r} is not a target (menu:<id>, queue:<id>, "
                               "service:<id> or hangup)")
    kind = match.group(1)
    assert kind in ("menu", "queue", "service")
    return Target(kind, match.group(2))  # type: ignore[arg-type]


def _known(keys: dict[str, Any], fields: dict[str, str]) -> None:
    for key in keys:
        if key not in fields:
            raise FlowError(f"{fields['']}.{key}" if fields[""] else key,
                            f"unknown field (allowed: {', '.join(k for k in fields if k)})")


def parse_flow(data: Any, source: str = "") -> Flow:
    """Builds a ``Flow`` from parsed YAML, checking every field and reference."""
    try:
        return _parse(data)
    except FlowError as err:
        raise FlowError(err.field, err.problem, source) from None


def _parse(data: Any) -> Flow:
    top = _mapping(data, "(top level)")
    _known(top, {"": "", "tenant": "", "voice": "", "prompts": "", "menus": "", "queues": "",
                 "services": "", "agent": "", "no_input": "", "entry_points": "",
                 "survey": ""})
    for required in ("tenant", "prompts", "menus", "queues", "agent", "entry_points"):
        if required not in top:
            raise FlowError(required, "is required")
    tenant = _str(top["tenant"], "tenant", _SLUG)
    voice = _str(top.get("voice", "en"), "voice")

    prompts: dict[str, str] = {}
    for pid, text in _mapping(top["prompts"], "prompts").items():
        _str(pid, f"prompts.{pid}", _SLUG)
        prompts[pid] = _str(text, f"prompts.{pid}")

    def prompt_ref(value: Any, field: str) -> str:
        pid = _str(value, field)
        if pid not in prompts:
            raise FlowError(field, f"prompt {pid!r} is not defined under prompts")
        return pid

    menus: dict[str, Menu] = {}
    for mid, raw in _mapping(top["menus"], "menus").items():
        base = f"menus.{mid}"
        _str(mid, base, _SLUG)
        spec = _mapping(raw, base)
        _known(spec, {"": base, "prompt": "", "options": "", "timeout_seconds": "",
                      "max_retries": ""})
        if "prompt" not in spec:
            raise FlowError(f"{base}.prompt", "is required")
        options: dict[str, Target] = {}
        for key, target in _mapping(spec.get("options", {}), f"{base}.options").items():
            if len(key) != 1 or key not in DIGITS:
                raise FlowError(f"{base}.options.{key}", "a menu option is one DTMF key "
                                                         "(0-9, * or #)")
            if key == AGENT_KEY:
                raise FlowError(f"{base}.options.{key}", "0 is reserved for the agent "
                                                         "(barge-in, see `agent`)")
            options[key] = _target(target, f"{base}.options.{key}")
        if not options:
            raise FlowError(f"{base}.options", "a menu needs at least one option")
        retries = _number(spec.get("max_retries"), f"{base}.max_retries", 2, 0, 5)
        if retries != int(retries):
            raise FlowError(f"{base}.max_retries", "must be a whole number")
        menus[mid] = Menu(mid, prompt_ref(spec["prompt"], f"{base}.prompt"), options,
                          _number(spec.get("timeout_seconds"), f"{base}.timeout_seconds",
                                  5.0, 1, 30), int(retries))

    queues: dict[str, QueueTarget] = {}
    for qid, raw in _mapping(top["queues"], "queues").items():
        base = f"queues.{qid}"
        _str(qid, base, _SLUG)
        spec = _mapping(raw or {}, base)
        _known(spec, {"": base, "skills": "", "priority": "", "language": "",
                      "hold_prompt": "", "announce_every_seconds": "", "callback": ""})
        skills_raw = spec.get("skills", [])
        if not isinstance(skills_raw, list):
            raise FlowError(f"{base}.skills", "must be a list of skill tags")
        skills = tuple(_str(s, f"{base}.skills[{i}]", _SLUG) for i, s in enumerate(skills_raw))
        priority = _number(spec.get("priority"), f"{base}.priority", 0, 0, 9)
        if priority != int(priority):
            raise FlowError(f"{base}.priority", "must be a whole number 0-9")
        language = spec.get("language")
        if language is not None:
            language = _str(language, f"{base}.language", re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$"))
        hold = spec.get("hold_prompt")
        announce = spec.get("announce_every_seconds")
        if announce is not None:
            announce = _number(announce, f"{base}.announce_every_seconds", 0, 5, 600)
        callback = None
        if spec.get("callback") is not None:
            cb = _mapping(spec["callback"], f"{base}.callback")
            cbase = f"{base}.callback"
            _known(cb, {"": cbase, "offer_above_seconds": "", "prompt": "", "confirm": "",
                        "promised_within_seconds": ""})
            for required in ("offer_above_seconds", "prompt", "confirm"):
                if required not in cb:
                    raise FlowError(f"{cbase}.{required}", "is required")
            callback = CallbackOffer(
                _number(cb["offer_above_seconds"], f"{cbase}.offer_above_seconds", 0, 0, 86400),
                prompt_ref(cb["prompt"], f"{cbase}.prompt"),
                prompt_ref(cb["confirm"], f"{cbase}.confirm"),
                _number(cb.get("promised_within_seconds"), f"{cbase}.promised_within_seconds",
                        3600, 60, 7 * 86400))
        queues[qid] = QueueTarget(qid, skills, int(priority), language,
                                  prompt_ref(hold, f"{base}.hold_prompt") if hold else None,
                                  announce, callback)

    services: dict[str, SelfService] = {}
    for sid, raw in _mapping(top.get("services", {}), "services").items():
        base = f"services.{sid}"
        _str(sid, base, _SLUG)
        spec = _mapping(raw, base)
        _known(spec, {"": base, "prompt": "", "then": "", "lookup": ""})
        if "prompt" not in spec:
            raise FlowError(f"{base}.prompt", "is required")
        lookup = None
        if spec.get("lookup") is not None:
            lookup = _lookup(spec["lookup"], f"{base}.lookup", prompt_ref)
        services[sid] = SelfService(sid, prompt_ref(spec["prompt"], f"{base}.prompt"),
                                    _target(spec.get("then", "hangup"), f"{base}.then"),
                                    lookup)

    entries: list[EntryPoint] = []
    raw_entries = top["entry_points"]
    if not isinstance(raw_entries, list) or not raw_entries:
        raise FlowError("entry_points", "must be a non-empty list")
    seen: set[str] = set()
    for i, raw in enumerate(raw_entries):
        base = f"entry_points[{i}]"
        spec = _mapping(raw, base)
        _known(spec, {"": base, "number": "", "target": "", "caller_tier": ""})
        number = _str(str(spec.get("number", "")), f"{base}.number", _NUMBER)
        if number in seen:
            raise FlowError(f"{base}.number", f"{number} is listed twice")
        seen.add(number)
        tier = spec.get("caller_tier", "standard")
        if tier not in ("standard", "vip"):
            raise FlowError(f"{base}.caller_tier", "must be standard or vip")
        if "target" not in spec:
            raise FlowError(f"{base}.target", "is required")
        entries.append(EntryPoint(number, _target(spec["target"], f"{base}.target"), tier))

    survey = None
    if top.get("survey") is not None:
        spec = _mapping(top["survey"], "survey")
        _known(spec, {"": "survey", "question_id": "", "prompt": "", "thanks": "",
                      "timeout_seconds": ""})
        for required in ("question_id", "prompt", "thanks"):
            if required not in spec:
                raise FlowError(f"survey.{required}", "is required")
        survey = Survey(_str(spec["question_id"], "survey.question_id", _SLUG),
                        prompt_ref(spec["prompt"], "survey.prompt"),
                        prompt_ref(spec["thanks"], "survey.thanks"),
                        _number(spec.get("timeout_seconds"), "survey.timeout_seconds", 8.0,
                                2, 30))

    if any(q.announce_every_seconds for q in queues.values()):
        for pid, text in announcement_prompts().items():
            if pid in prompts:
                raise FlowError(f"prompts.{pid}", "is reserved for position announcements")
            prompts[pid] = text

    flow = Flow(tenant, voice, prompts, menus, queues, services, tuple(entries),
                _target(top["agent"], "agent"), _target(top.get("no_input", "hangup"), "no_input"),
                survey)
    _check_references(flow)
    return flow


def _lookup(raw: Any, base: str, prompt_ref: Callable[[Any, str], str]) -> LookupSpec:
    spec = _mapping(raw, base)
    _known(spec, {"": base, "url": "", "field": "", "answers": "", "fallback": "",
                  "min_digits": "", "max_digits": "", "timeout_seconds": "",
                  "key_timeout_seconds": ""})
    for required in ("url", "field", "answers", "fallback"):
        if required not in spec:
            raise FlowError(f"{base}.{required}", "is required")
    url = _str(spec["url"], f"{base}.url")
    if not url.startswith(("http://", "https://")) or url.count("{digits}") != 1:
        raise FlowError(f"{base}.url", "must be an http(s) URL with {digits} once "
                                       "(where the keyed-in id goes)")
    answers = {str(value): prompt_ref(pid, f"{base}.answers.{value}")
               for value, pid in _mapping(spec["answers"], f"{base}.answers").items()}
    if not answers:
        raise FlowError(f"{base}.answers", "needs at least one answer")
    low = _number(spec.get("min_digits"), f"{base}.min_digits", 1, 1, 32)
    high = _number(spec.get("max_digits"), f"{base}.max_digits", 16, 1, 32)
    if low != int(low) or high != int(high) or low > high:
        raise FlowError(f"{base}.min_digits", "min_digits and max_digits are whole numbers, "
                                              "min ≤ max")
    return LookupSpec(url, _str(spec["field"], f"{base}.field"), answers,
                      prompt_ref(spec["fallback"], f"{base}.fallback"), int(low), int(high),
                      _number(spec.get("timeout_seconds"), f"{base}.timeout_seconds", 2, 0.2,
                              10),
                      _number(spec.get("key_timeout_seconds"), f"{base}.key_timeout_seconds",
                              5, 1, 30))


def _check_references(flow: Flow) -> None:
    pools: dict[str, dict[str, Any]] = {"menu": flow.menus, "queue": flow.queues,
                                        "service": flow.services}
    refs: list[tuple[str, Target]] = [("agent", flow.agent_target),
                                      ("no_input", flow.no_input_target)]
    refs += [(f"menus.{m.id}.options.{k}", t) for m in flow.menus.values()
             for k, t in m.options.items()]
    refs += [(f"services.{s.id}.then", s.then) for s in flow.services.values()]
    refs += [(f"entry_points[{i}].target", e.target) for i, e in enumerate(flow.entry_points)]
    for field, target in refs:
        if target.kind != "hangup" and target.name not in pools[target.kind]:
            raise FlowError(field, f"{target} does not exist (no {target.kind}s.{target.name})")
    if flow.agent_target.kind != "queue":
        raise FlowError("agent", "must be a queue:<id> target")


def load_flow(path: Path) -> Flow:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise FlowError("(file)", f"not valid YAML: {err}", str(path)) from None
    return parse_flow(data, str(path))
