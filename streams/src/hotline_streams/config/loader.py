"""Load and validate a tenant's YAML configuration.

A bad configuration is rejected at start-up with ``ConfigError`` naming the file and
the field (``queues.billing.service_level.target``), never half-applied. The format::

    tenant: acme
    queues:
      billing:
        required_skills: [billing]
        service_level:          # all optional; DESIGN.md defaults
          threshold_s: 20
          target: 0.8
          short_abandon_s: 5
          abandon_treatment: against   # ignored | against | met-within-threshold
          interval_s: 900
        ring_timeout_s: 15
        overflow:               # increasing after_s
          - {after_s: 60, required_skills: [general]}
          - {after_s: 120, to_queue: general}   # skills of that queue
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hotline_events.models import NAME_PATTERN
from hotline_streams.config.models import QueueConfig, TenantConfig
from hotline_streams.routing.models import OverflowRule, QueueRouting
from hotline_streams.service_levels.models import AbandonTreatment, QueueSettings

_SLUG = re.compile(NAME_PATTERN)  # tenant, queue and skill names, as in the events
_TOP = {"tenant", "queues"}
_QUEUE = {"required_skills", "service_level", "ring_timeout_s", "overflow"}
_SERVICE_LEVEL = {"threshold_s", "target", "short_abandon_s", "abandon_treatment", "interval_s"}
_OVERFLOW = {"after_s", "required_skills", "to_queue"}


class ConfigError(ValueError):
    """A configuration problem; ``field`` is the dotted path of the offending field."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source = source
        self.field = field
        self.reason = reason
        super().__init__(f"{source}: {field}: {reason}")


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, reason: str) -> ConfigError:
        return ConfigError(self.source, field, reason)

    def mapping(self, value: Any, field: str, allowed: set[str],
                required: set[str] = frozenset()) -> Mapping[str, Any]:  # type: ignore[assignment]
        if not isinstance(value, Mapping):
            raise self.fail(field, f"must be a mapping, got {type(value).__name__}")
        for key in value:
            if key not in allowed:
                raise self.fail(_join(field, str(key)),
                                f"unknown field (known: {', '.join(sorted(allowed))})")
        for key in sorted(required):
            if key not in value:
                raise self.fail(_join(field, key), "is required")
        return value

    def slug(self, value: Any, field: str) -> str:
        if not isinstance(value, str) or not _SLUG.match(value):
            raise self.fail(field, f"{value!r} is not a name (lower-case letters, digits, "
                                   "'.', '_', '-'; at most 63)")
        return value

    def number(self, value: Any, field: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(field, f"must be a number, got {value!r}")
        return float(value)

    def skills(self, value: Any, field: str) -> frozenset[str]:
        if not isinstance(value, list):
            raise self.fail(field, f"must be a list of skills, got {value!r}")
        return frozenset(self.slug(s, f"{field}[{i}]") for i, s in enumerate(value))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def parse(raw: Any, source: str = "<config>") -> TenantConfig:
    """A tenant's configuration from parsed YAML; raises ``ConfigError``."""
    check = _Checker(source)
    top = check.mapping(raw, "", _TOP, {"tenant", "queues"})
    tenant = check.slug(top["tenant"], "tenant")
    queues_raw = check.mapping(top["queues"], "queues", set(top["queues"] or {}))
    if not queues_raw:
        raise check.fail("queues", "at least one queue is required")
    queues = {check.slug(name, f"queues.{name}"): body for name, body in queues_raw.items()}
    skills_of: dict[str, frozenset[str]] = {}
    for name, body in queues.items():
        field = f"queues.{name}"
        q = check.mapping(body, field, _QUEUE, {"required_skills"})
        skills_of[name] = check.skills(q["required_skills"], f"{field}.required_skills")
    configs: dict[str, QueueConfig] = {}
    for name, q in queues.items():
        field = f"queues.{name}"
        configs[name] = QueueConfig(
            queue=name,
            required_skills=skills_of[name],
            settings=_settings(check, name, q.get("service_level", {}), f"{field}.service_level"),
            routing=_routing(check, name, q, field, skills_of),
        )
    return TenantConfig(tenant=tenant, queues=configs)


def _settings(check: _Checker, queue: str, raw: Any, field: str) -> QueueSettings:
    sl = check.mapping(raw, field, _SERVICE_LEVEL)
    values: dict[str, Any] = {}
    for key in ("threshold_s", "target", "short_abandon_s"):
        if key in sl:
            values[key] = check.number(sl[key], f"{field}.{key}")
    if "interval_s" in sl:
        interval = sl["interval_s"]
        if isinstance(interval, bool) or not isinstance(interval, int):
            raise check.fail(f"{field}.interval_s", f"must be whole seconds, got {interval!r}")
        values["interval_s"] = interval
    if "abandon_treatment" in sl:
        try:
            values["abandon_treatment"] = AbandonTreatment(sl["abandon_treatment"])
        except ValueError:
            raise check.fail(f"{field}.abandon_treatment",
                             f"{sl['abandon_treatment']!r} is not one of "
                             f"{', '.join(t.value for t in AbandonTreatment)}") from None
    try:
        return QueueSettings(queue=queue, **values)
    except ValueError as exc:
        # The model's own checks name the field; map the message back to its path.
        bad = next((k for k in ("threshold_s", "target", "short_abandon_s", "interval_s")
                    if k in str(exc)), "")
        raise check.fail(_join(field, bad), str(exc)) from None


def _routing(check: _Checker, queue: str, q: Mapping[str, Any], field: str,
             skills_of: Mapping[str, frozenset[str]]) -> QueueRouting:
    ring_timeout = 15.0
    if "ring_timeout_s" in q:
        ring_timeout = check.number(q["ring_timeout_s"], f"{field}.ring_timeout_s")
        if ring_timeout <= 0:
            raise check.fail(f"{field}.ring_timeout_s", "must be > 0")
    overflow_raw = q.get("overflow", [])
    if not isinstance(overflow_raw, list):
        raise check.fail(f"{field}.overflow", "must be a list of rules")
    rules: list[OverflowRule] = []
    previous = 0.0
    for i, raw_rule in enumerate(overflow_raw):
        rf = f"{field}.overflow[{i}]"
        rule = check.mapping(raw_rule, rf, _OVERFLOW, {"after_s"})
        after = check.number(rule["after_s"], f"{rf}.after_s")
        if after <= previous:
            raise check.fail(f"{rf}.after_s", f"must be > 0 and greater than the previous "
                                              f"rule's ({previous:g})")
        previous = after
        to_queue = None
        if "to_queue" in rule:
            to_queue = check.slug(rule["to_queue"], f"{rf}.to_queue")
            if to_queue not in skills_of:
                raise check.fail(f"{rf}.to_queue", f"queue {to_queue!r} is not configured")
            if to_queue == queue:
                raise check.fail(f"{rf}.to_queue", "overflows to its own queue")
        if "required_skills" in rule:
            skills = check.skills(rule["required_skills"], f"{rf}.required_skills")
        elif to_queue is not None:
            skills = skills_of[to_queue]
        else:
            raise check.fail(rf, "needs required_skills or to_queue")
        rules.append(OverflowRule(after_s=after, required_skills=skills, to_queue=to_queue))
    return QueueRouting(queue=queue, overflow=tuple(rules), ring_timeout_s=ring_timeout)


def load(path: Path) -> TenantConfig:
    """One tenant's file; the file name does not matter, its ``tenant`` field does."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), "", f"not valid YAML: {exc}") from None
    return parse(raw, str(path))


def load_dir(directory: Path) -> dict[str, TenantConfig]:
    """Every ``*.yaml``/``*.yml`` in a directory, one tenant each; a tenant twice is an error."""
    out: dict[str, TenantConfig] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        config = load(path)
        if config.tenant in out:
            raise ConfigError(str(path), "tenant", f"tenant {config.tenant!r} is configured twice")
        out[config.tenant] = config
    return out
