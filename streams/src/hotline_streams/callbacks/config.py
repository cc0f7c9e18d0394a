"""Callback policies per tenant from YAML; a bad file is rejected naming the field.

    acme:
      time_zone: Europe/Berlin
      quiet_hours: {start: "21:00", end: "08:00"}
      max_attempts: 3
      retry_backoff_s: 120
      allowed_countries: [DE, AT]          # ISO regions (default: DE only)
      allowed_prefixes: ["+4930", "+43"]   # E.164 prefixes; alone, they decide
      max_per_number_per_hour: 3
      max_per_tenant_per_hour: 1000
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from hotline_streams.callbacks.destinations import PREFIX, known_region
from hotline_streams.callbacks.models import CallbackPolicy, QuietHours


class PolicyError(ValueError):
    pass


_NUMBERS = ("max_attempts", "retry_backoff_s", "retry_backoff_max_s", "default_window_s",
            "claim_ttl_s", "dial_timeout_s", "figures_interval_s", "preview_timeout_s",
            "max_per_number_per_hour", "max_per_tenant_per_hour")
_WHOLE = ("max_attempts", "figures_interval_s", "max_per_number_per_hour",
          "max_per_tenant_per_hour")


def _clock(value: Any, where: str) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise PolicyError(f"{where}: {value!r} is not a time like 21:00") from None


def parse_policy(tenant: str, raw: Any) -> CallbackPolicy:
    if not isinstance(raw, dict):
        raise PolicyError(f"{tenant}: expected a mapping of policy fields")
    known = {*_NUMBERS, "time_zone", "quiet_hours", "auto_callback_surge_level",
             "agent_first_queues", "allowed_countries", "allowed_prefixes"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PolicyError(f"{tenant}.{unknown[0]}: unknown field (known: {sorted(known)})")
    values: dict[str, Any] = {}
    if "time_zone" in raw:
        try:
            ZoneInfo(str(raw["time_zone"]))
        except (ZoneInfoNotFoundError, ValueError):
            raise PolicyError(f"{tenant}.time_zone: unknown zone {raw['time_zone']!r}") from None
        values["time_zone"] = str(raw["time_zone"])
    if raw.get("quiet_hours") is not None:
        q = raw["quiet_hours"]
        if not isinstance(q, dict) or set(q) != {"start", "end"}:
            raise PolicyError(f"{tenant}.quiet_hours: needs exactly start and end")
        values["quiet_hours"] = QuietHours(_clock(q["start"], f"{tenant}.quiet_hours.start"),
                                           _clock(q["end"], f"{tenant}.quiet_hours.end"))
    for name in _NUMBERS:
        if name in raw:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise PolicyError(f"{tenant}.{name}: must be a positive number, got {value!r}")
            if name in _WHOLE and value != int(value):
                raise PolicyError(f"{tenant}.{name}: must be a whole number, got {value!r}")
            values[name] = int(value) if name in _WHOLE else float(value)
    if "auto_callback_surge_level" in raw:
        level = raw["auto_callback_surge_level"]
        if level is not None and (not isinstance(level, int) or not 0 <= level <= 4):
            raise PolicyError(f"{tenant}.auto_callback_surge_level: 0-4 or null, got {level!r}")
        values["auto_callback_surge_level"] = level
    if "agent_first_queues" in raw:
        queues = raw["agent_first_queues"]
        if not (isinstance(queues, list) and all(isinstance(q, str) and q for q in queues)):
            raise PolicyError(f"{tenant}.agent_first_queues: a list of queue names, "
                              f"got {queues!r}")
        values["agent_first_queues"] = frozenset(queues)
    values.update(_destinations(tenant, raw))
    return CallbackPolicy(**values)


def _destinations(tenant: str, raw: dict[str, Any]) -> dict[str, Any]:
    """allowed_countries and allowed_prefixes. Prefixes without countries: the prefixes
    alone decide (the default country list would contradict e.g. "+43")."""
    values: dict[str, Any] = {}
    if "allowed_countries" in raw:
        regions = raw["allowed_countries"]
        if not (isinstance(regions, list) and regions
                and all(isinstance(r, str) for r in regions)):
            raise PolicyError(f"{tenant}.allowed_countries: a non-empty list of ISO region "
                              f"codes like [DE, AT], got {regions!r} (quote \"NO\": YAML "
                              "reads NO as false)")
        unknown = [r for r in regions if not known_region(r)]
        if unknown:
            raise PolicyError(f"{tenant}.allowed_countries: {unknown[0]!r} is not a region "
                              "code with a numbering plan (upper-case ISO 3166, e.g. DE)")
        values["allowed_countries"] = frozenset(regions)
    if "allowed_prefixes" in raw:
        prefixes = raw["allowed_prefixes"]
        if not (isinstance(prefixes, list) and prefixes
                and all(isinstance(p, str) and PREFIX.match(p) for p in prefixes)):
            raise PolicyError(f"{tenant}.allowed_prefixes: a non-empty list of E.164 "
                              f"prefixes like \"+4930\" (quoted), got {prefixes!r}")
        values["allowed_prefixes"] = tuple(prefixes)
        values.setdefault("allowed_countries", frozenset())
    return values


def load_policies(path: str | Path | None) -> Callable[[str], CallbackPolicy]:
    """A lookup tenant → policy (the default policy for tenants not in the file)."""
    policies: dict[str, CallbackPolicy] = {}
    if path is not None:
        raw = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(raw, dict):
            raise PolicyError(f"{path}: expected a mapping tenant → policy")
        policies = {str(t): parse_policy(str(t), p) for t, p in raw.items()}
    default = CallbackPolicy()
    return lambda tenant: policies.get(tenant, default)
