"""Signed requests to the witness: only its sites may heartbeat, take over or release.

Each site has a key of its own, known to the witness and to that site's operator
(a Kubernetes Secret with one entry per site, mounted as files). A request carries the
site, the time and an HMAC-SHA256 over the method, the path, that time and the body's
SHA-256. The witness refuses a request whose signature does not verify with the named
site's key, or whose time is more than ``MAX_AGE_S`` away from its clock (a captured
request replays for that long at most).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

SITE_HEADER = "X-Hotline-Site"
TIME_HEADER = "X-Hotline-Time"
SIGNATURE_HEADER = "X-Hotline-Signature"
MAX_AGE_S = 30.0
MIN_KEY_BYTES = 16
KEYS_DIR_ENV = "HOTLINE_WITNESS_KEYS_DIR"  # an operator's: one file per site, its key


def signature(key: bytes, method: str, path: str, at: str, body: bytes) -> str:
    message = "\n".join((method.upper(), path, at, hashlib.sha256(body).hexdigest()))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def sign(site: str, key: bytes, method: str, path: str, body: bytes,
         now: float) -> dict[str, str]:
    """The headers that sign a request of ``site``."""
    at = f"{now:.3f}"
    return {SITE_HEADER: site, TIME_HEADER: at,
            SIGNATURE_HEADER: signature(key, method, path, at, body)}


def verify(keys: Mapping[str, bytes], method: str, path: str, headers: Mapping[str, str],
           body: bytes, now: float) -> tuple[str | None, str]:
    """(the signing site, "") for a request signed by a known site, else (None, why)."""
    site, at, given = (headers.get(SITE_HEADER), headers.get(TIME_HEADER),
                       headers.get(SIGNATURE_HEADER))
    if not site or not at or not given:
        return None, (f"unsigned: {SITE_HEADER}, {TIME_HEADER} and {SIGNATURE_HEADER} "
                      "are required")
    key = keys.get(site)
    if key is None:
        return None, f"site {site!r} has no key at this witness"
    try:
        age = abs(now - float(at))
    except ValueError:
        return None, f"{TIME_HEADER} {at!r} is not a number of seconds"
    if age > MAX_AGE_S:
        return None, (f"signed {age:.0f} s away from the witness's clock (more than "
                      f"{MAX_AGE_S:.0f} s)")
    if not hmac.compare_digest(given, signature(key, method, path, at, body)):
        return None, f"the signature does not verify with {site}'s key"
    return site, ""


def load_keys(directory: Path) -> dict[str, bytes]:
    """Site → key from a directory of one file per site (a mounted Secret: its
    ``..data`` bookkeeping entries are skipped). Raises ValueError naming the file of
    a key too short to be one."""
    keys: dict[str, bytes] = {}
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        key = path.read_bytes().strip()
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"{path}: a site key needs at least {MIN_KEY_BYTES} bytes")
        keys[path.name] = key
    if not keys:
        raise ValueError(f"{directory}: no site key (one file per site, named by the site)")
    return keys
