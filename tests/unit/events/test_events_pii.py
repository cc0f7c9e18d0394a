"""Caller tokens: keyed, normalised, stable across sites, loud when the key is missing."""

from __future__ import annotations

import re

import pytest

from hotline_events.pii import (
    KEY_ENV,
    CallerTokenKeyMissing,
    caller_token,
    normalise_number,
    token_key,
)

KEY = b"site-shared-secret-0123456789"


def test_token_is_a_keyed_hmac_of_the_normalised_number() -> None:
    token = caller_token("+49 151 1234-5678", KEY)
    assert re.fullmatch(r"ct1_[0-9a-f]{64}", token)
    assert token == caller_token("+4915112345678", KEY) == caller_token("0049 (151) 12345678",
                                                                        KEY)
    assert token != caller_token("+4915112345678", b"another-secret-key-0000")
    assert "4915112345678" not in token


def test_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert caller_token("+4915112345678") == caller_token("+4915112345678", KEY)


def test_missing_or_short_key_is_a_clear_error() -> None:
    with pytest.raises(CallerTokenKeyMissing, match=f"{KEY_ENV} is not set.*same secret"):
        token_key({})
    with pytest.raises(CallerTokenKeyMissing, match="at least 16"):
        token_key({KEY_ENV: "short"})


def test_non_numbers_are_rejected() -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        normalise_number("anonymous")
