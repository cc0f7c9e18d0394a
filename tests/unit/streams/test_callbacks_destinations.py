"""The callback destination policy (toll-fraud guard), on plain data: what is never
dialled, the tenant's countries and prefixes, the rate limits, and their config."""

from __future__ import annotations

import pytest

from hotline_streams.callbacks.config import PolicyError, load_policies, parse_policy
from hotline_streams.callbacks.destinations import mask, number_key, refusal
from hotline_streams.callbacks.models import CallbackPolicy

DEFAULT = CallbackPolicy()  # an unconfigured tenant: Germany only
UK = CallbackPolicy(allowed_countries=frozenset({"GB"}))
US = CallbackPolicy(allowed_countries=frozenset({"US"}))
BERLIN = "+4930555123"


def code(number: str, policy: CallbackPolicy = DEFAULT, per_number: int = 0,
         per_tenant: int = 0) -> str | None:
    found = refusal(number, policy, per_number, per_tenant)
    return None if found is None else found.code


def test_an_ordinary_number_of_an_allowed_country_is_dialled() -> None:
    assert refusal(BERLIN, DEFAULT, 0, 0) is None
    assert refusal("+4915112345678", DEFAULT, 0, 0) is None  # German mobile
    assert refusal("+12125551234", US, 0, 0) is None


@pytest.mark.parametrize(("number", "policy"), [
    ("112", DEFAULT), ("+112", DEFAULT), ("+49112", DEFAULT),
    ("110", DEFAULT), ("+49110", DEFAULT),
    ("911", US), ("+1911", US), ("+1911", DEFAULT),  # the number's own region counts
    ("999", UK), ("+44999", UK),
])
def test_emergency_numbers_are_always_refused(number: str, policy: CallbackPolicy) -> None:
    found = refusal(number, policy, 0, 0)
    assert found is not None and found.code == "emergency-number"
    assert found.text == "refused: emergency number"


def test_an_emergency_number_is_refused_even_if_the_tenant_allows_its_prefix() -> None:
    assert code("+49112", CallbackPolicy(allowed_countries=frozenset(),
                                         allowed_prefixes=("+49",))) == "emergency-number"


def test_premium_rate_numbers_are_always_refused() -> None:
    found = refusal("+499001234567", DEFAULT, 0, 0)  # German 0900
    assert found is not None and found.code == "premium-rate"
    assert found.text == "refused: premium-rate number"
    assert code("+449012345678", UK) == "premium-rate"  # UK 09
    assert code("+33892123456", CallbackPolicy(allowed_countries=frozenset({"FR"}))) == (
        "premium-rate")


def test_other_surcharged_service_numbers_are_refused() -> None:
    assert code("+4918012345678") == "surcharged-number"  # shared cost (0180)
    assert code("+4970012345678") == "surcharged-number"  # personal number (0700)
    assert code("+447011234567", UK) == "surcharged-number"  # UK 070 personal numbers


def test_short_codes_are_refused() -> None:
    assert code("+4911833") == "short-code"  # directory enquiries
    assert code("11833") == "short-code"


@pytest.mark.parametrize("number", ["+4922", "+4930", "+999123456789", "hello", "", "+",
                                    "004930555123", "030555123", "+49 30 555123"])
def test_anything_not_a_valid_e164_number_is_refused(number: str) -> None:
    assert code(number) == "invalid-number"


def test_a_number_outside_the_allowed_countries_is_refused() -> None:
    found = refusal("+33123456789", DEFAULT, 0, 0)
    assert found is not None and found.code == "country-not-allowed"
    assert "FR" in found.text and "DE" in found.text and "+33" not in found.text
    assert code("+4930555123", UK) == "country-not-allowed"
    both = CallbackPolicy(allowed_countries=frozenset({"DE", "FR"}))
    assert code("+33123456789", both) is None and code(BERLIN, both) is None


def test_a_prefix_allow_list() -> None:
    berlin_only = CallbackPolicy(allowed_countries=frozenset(), allowed_prefixes=("+4930",))
    assert code(BERLIN, berlin_only) is None
    assert code("+4940123456", berlin_only) == "prefix-not-allowed"  # Hamburg
    assert code("+33123456789", berlin_only) == "prefix-not-allowed"
    # Both lists: a number must pass both.
    both = CallbackPolicy(allowed_countries=frozenset({"DE"}), allowed_prefixes=("+4930", "+43"))
    assert code(BERLIN, both) is None
    assert code("+43123456789", both) == "country-not-allowed"
    assert code("+4940123456", both) == "prefix-not-allowed"


def test_a_tenant_that_allows_nothing_dials_nothing() -> None:
    none = CallbackPolicy(allowed_countries=frozenset())
    assert code(BERLIN, none) == "country-not-allowed"


def test_the_rate_limit_per_number() -> None:
    policy = CallbackPolicy(max_per_number_per_hour=2, max_per_tenant_per_hour=100)
    assert code(BERLIN, policy, per_number=1, per_tenant=50) is None
    found = refusal(BERLIN, policy, 2, 50)
    assert found is not None and found.code == "number-rate-limit"
    assert "limit 2" in found.text


def test_the_rate_limit_per_tenant() -> None:
    policy = CallbackPolicy(max_per_number_per_hour=2, max_per_tenant_per_hour=100)
    assert code(BERLIN, policy, per_number=0, per_tenant=99) is None
    assert code(BERLIN, policy, per_number=0, per_tenant=100) == "tenant-rate-limit"


def test_the_number_itself_beats_the_rate_limit_as_a_reason() -> None:
    assert code("+499001234567", DEFAULT, per_number=99, per_tenant=9999) == "premium-rate"


def test_numbers_are_masked_in_logs_and_hashed_for_counting() -> None:
    assert mask("+499001234567") == "***567" and mask("112") == "***"
    assert number_key("acme", BERLIN) == number_key("acme", BERLIN)
    assert number_key("acme", BERLIN) != number_key("bank", BERLIN)
    assert "555123" not in number_key("acme", BERLIN)


def test_destination_policy_from_yaml() -> None:
    assert load_policies(None)("anyone").allowed_countries == frozenset({"DE"})
    policy = parse_policy("acme", {"allowed_countries": ["DE", "AT"],
                                   "allowed_prefixes": ["+4930", "+43"],
                                   "max_per_number_per_hour": 2,
                                   "max_per_tenant_per_hour": 50})
    assert policy.allowed_countries == frozenset({"DE", "AT"})
    assert policy.allowed_prefixes == ("+4930", "+43")
    assert (policy.max_per_number_per_hour, policy.max_per_tenant_per_hour) == (2, 50)
    # Prefixes alone decide: the default country list would contradict "+43".
    alone = parse_policy("acme", {"allowed_prefixes": ["+43"]})
    assert alone.allowed_countries == frozenset()
    assert code("+43123456789", alone) is None


@pytest.mark.parametrize(("raw", "field"), [
    ({"allowed_countries": []}, "allowed_countries"),
    ({"allowed_countries": "DE"}, "allowed_countries"),
    ({"allowed_countries": ["XX"]}, "allowed_countries"),
    ({"allowed_countries": ["de"]}, "allowed_countries"),
    ({"allowed_countries": [False]}, "allowed_countries"),  # YAML's unquoted NO
    ({"allowed_prefixes": [4930]}, "allowed_prefixes"),  # unquoted +4930
    ({"allowed_prefixes": ["4930"]}, "allowed_prefixes"),
    ({"allowed_prefixes": ["+49 30"]}, "allowed_prefixes"),
    ({"allowed_prefixes": []}, "allowed_prefixes"),
    ({"max_per_number_per_hour": 0}, "max_per_number_per_hour"),
    ({"max_per_tenant_per_hour": 2.5}, "max_per_tenant_per_hour"),
])
def test_bad_destination_config_is_rejected_naming_the_field(raw: dict[str, object],
                                                             field: str) -> None:
    with pytest.raises(PolicyError, match=rf"acme\.{field}"):
        parse_policy("acme", raw)
