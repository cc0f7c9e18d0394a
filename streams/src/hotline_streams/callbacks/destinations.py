"""Where a callback may dial: the toll-fraud guard, as pure decisions over plain data.

The number dialled back is the caller's, and a caller (or a forged From header) chooses
it; an automatic callback multiplies that by every abandon of a surge. So before a
callback is created, and again before each dial, the scheduler asks ``refusal``:

* never, whatever the tenant says: emergency numbers (112, 911, 999, 110, … of the
  number's region and of the tenant's regions), short codes, anything that is not a
  valid E.164 number, premium-rate numbers, and the other surcharged service numbers
  (shared-cost, universal access, personal numbers: UK 070 "personal numbers" are a
  classic revenue-share fraud, and a customer is not a company switchboard);
* then the tenant's ``allowed_countries`` (ISO regions; the number's region as the
  phonenumbers library says, e.g. GG/JE/IM for some +44 mobiles) and
  ``allowed_prefixes`` (E.164 prefixes): a number must pass both lists that are set;
* then the rate limits: at most ``max_per_number_per_hour`` callbacks to one number
  and ``max_per_tenant_per_hour`` for the tenant, counted by the caller (from
  Cassandra, see ``store_admissions``).

Numbers are checked with Google's libphonenumber metadata (the ``phonenumbers``
package), whose releases follow the numbering plans' changes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberType, shortnumberinfo

from hotline_streams.callbacks.models import CallbackPolicy

Code = Literal["emergency-number", "short-code", "invalid-number", "premium-rate",
               "surcharged-number", "country-not-allowed", "prefix-not-allowed",
               "number-rate-limit", "tenant-rate-limit"]

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
COUNTRY_CODES = frozenset(COUNTRY_CODE_TO_REGION_CODE)
PREFIX = re.compile(r"^\+[1-9][0-9]{0,14}$")
# Surcharged service numbers: the platform would pay (or share revenue with) whoever
# holds them. Toll-free is allowed (it costs the caller's carrier, not us, nothing).
SURCHARGED = {
    PhoneNumberType.SHARED_COST: "shared-cost",
    PhoneNumberType.UAN: "universal-access",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
}


@dataclass(frozen=True)
class Refusal:
    """Why a callback is not dialled: ``code`` goes on ``CallbackRefused``, ``text`` in
    the log and the stored outcome (``refused: premium-rate number``)."""

    code: Code
    detail: str

    @property
    def text(self) -> str:
        return f"refused: {self.detail}"

    def __str__(self) -> str:
        return self.text


def mask(number: str) -> str:
    """A number for logs: its last 3 digits only (logs must not carry personal data)."""
    digits = re.sub(r"[^0-9]", "", number)
    return f"***{digits[-3:]}" if len(digits) > 3 else "***"


def number_key(tenant: str, number: str) -> str:
    """What the rate-limit rows store instead of the number: a digest per tenant."""
    return hashlib.sha256(f"{tenant}\x00{number}".encode()).hexdigest()[:32]


def _emergency(digits: str, regions: set[str]) -> bool:
    return any(shortnumberinfo.is_emergency_number(digits, region) for region in regions)


def destination_refusal(number: str, policy: CallbackPolicy) -> Refusal | None:
    """Whether ``number`` may be dialled under ``policy`` at all (no rate limits)."""
    number = number.strip()
    home = set(policy.allowed_countries) | {
        r for p in policy.allowed_prefixes if _country_code(p)
        for r in phonenumbers.region_codes_for_country_code(_country_code(p))}
    if not E164.match(number):
        digits = re.sub(r"[^0-9]", "", number)
        # A bare "112" or "11833" is what a spoofed From header would carry: named
        # for what it is in the tenant's regions before "not E.164".
        if digits and _emergency(digits, home):
            return Refusal("emergency-number", "emergency number")
        if digits and any(shortnumberinfo.is_valid_short_number_for_region(
                phonenumbers.parse(digits, r), r) for r in home if _parses(digits, r)):
            return Refusal("short-code", "short code")
        return Refusal("invalid-number", "not an E.164 number (+ and country code)")
    if _emergency(number[1:], home):  # "+112": a bare emergency number with a "+"
        return Refusal("emergency-number", "emergency number")
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return Refusal("invalid-number", "not a valid number")
    regions = set(phonenumbers.region_codes_for_country_code(parsed.country_code or 0))
    if _emergency(phonenumbers.national_significant_number(parsed), regions | home):
        return Refusal("emergency-number", "emergency number")
    if shortnumberinfo.is_valid_short_number(parsed):
        return Refusal("short-code", "short code")
    if not phonenumbers.is_valid_number(parsed):
        return Refusal("invalid-number", "not a valid number")
    kind = phonenumbers.number_type(parsed)
    if kind == PhoneNumberType.PREMIUM_RATE:
        return Refusal("premium-rate", "premium-rate number")
    if kind in SURCHARGED:
        return Refusal("surcharged-number", f"{SURCHARGED[kind]} service number")
    region = phonenumbers.region_code_for_number(parsed) or "unknown"
    if policy.allowed_countries and region not in policy.allowed_countries:
        return Refusal("country-not-allowed",
                       f"a number in {region}, not an allowed country "
                       f"({', '.join(sorted(policy.allowed_countries))})")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if policy.allowed_prefixes and not any(e164.startswith(p) for p in policy.allowed_prefixes):
        return Refusal("prefix-not-allowed", "not under an allowed prefix")
    if not policy.allowed_countries and not policy.allowed_prefixes:
        return Refusal("country-not-allowed", "the tenant allows no destination")
    return None


def rate_refusal(policy: CallbackPolicy, recent_for_number: int,
                 recent_for_tenant: int) -> Refusal | None:
    """Whether one more callback would exceed the limits, given the callbacks admitted
    in the last hour (to this number, for this tenant)."""
    if recent_for_number >= policy.max_per_number_per_hour:
        return Refusal("number-rate-limit",
                       f"{recent_for_number} callback(s) to this number in the last hour "
                       f"(limit {policy.max_per_number_per_hour})")
    if recent_for_tenant >= policy.max_per_tenant_per_hour:
        return Refusal("tenant-rate-limit",
                       f"{recent_for_tenant} callback(s) for the tenant in the last hour "
                       f"(limit {policy.max_per_tenant_per_hour})")
    return None


def refusal(number: str, policy: CallbackPolicy, recent_for_number: int,
            recent_for_tenant: int) -> Refusal | None:
    """Why a new callback to ``number`` is refused, or None to admit it."""
    return (destination_refusal(number, policy)
            or rate_refusal(policy, recent_for_number, recent_for_tenant))


def _country_code(prefix: str) -> int:
    """The country code an E.164 prefix starts with (0 when too short to tell)."""
    digits = prefix.lstrip("+")
    for length in (1, 2, 3):
        if len(digits) >= length and int(digits[:length]) in COUNTRY_CODES:
            return int(digits[:length])
    return 0


def _parses(digits: str, region: str) -> bool:
    try:
        phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:
        return False
    return True


def known_region(region: str) -> bool:
    return region in phonenumbers.SUPPORTED_REGIONS
