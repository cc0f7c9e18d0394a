"""Signed requests to the witness, verified without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_operators.witness.signing import load_keys, sign, verify

KEYS = {"site-a": b"a" * 32, "site-b": b"b" * 32}
BODY = b'{"holder": "site-a", "failed_site": "site-b"}'


def test_a_request_signed_by_a_known_site_verifies() -> None:
    headers = sign("site-a", KEYS["site-a"], "POST", "/takeover", BODY, 1000.0)
    assert verify(KEYS, "POST", "/takeover", headers, BODY, 1010.0) == ("site-a", "")


@pytest.mark.parametrize(("change", "why"), [
    ({"body": b"{}"}, "does not verify"),
    ({"path": "/release"}, "does not verify"),
    ({"method": "PUT"}, "does not verify"),
    ({"now": 1031.0}, "away from the witness's clock"),
    ({"now": 969.0}, "away from the witness's clock"),
    ({"site": "site-b"}, "does not verify"),  # site-a's signature, claimed by site-b
    ({"site": "site-q"}, "no key"),
    ({"drop": "X-Hotline-Signature"}, "unsigned"),
    ({"time": "yesterday"}, "not a number"),
])
def test_anything_else_is_refused_with_the_reason(change: dict[str, object], why: str) -> None:
    headers = sign("site-a", KEYS["site-a"], "POST", "/takeover", BODY, 1000.0)
    if "site" in change:
        headers["X-Hotline-Site"] = str(change["site"])
    if "drop" in change:
        del headers[str(change["drop"])]
    if "time" in change:
        headers["X-Hotline-Time"] = str(change["time"])
    site, reason = verify(KEYS, str(change.get("method", "POST")),
                          str(change.get("path", "/takeover")), headers,
                          change.get("body", BODY), float(change.get("now", 1000.0)))  # type: ignore[arg-type]
    assert site is None and why in reason


def test_keys_come_from_one_file_per_site_as_a_mounted_secret(tmp_path: Path) -> None:
    (tmp_path / "site-a").write_text("k" * 32 + "\n")
    (tmp_path / "..data").mkdir()  # a mounted Secret's bookkeeping
    (tmp_path / "..2026_12_06").mkdir()
    assert load_keys(tmp_path) == {"site-a": b"k" * 32}
    (tmp_path / "site-b").write_text("short")
    with pytest.raises(ValueError, match="site-b: a site key needs at least 16 bytes"):
        load_keys(tmp_path)
    with pytest.raises(ValueError, match="no site key"):
        load_keys(tmp_path / "..data")
