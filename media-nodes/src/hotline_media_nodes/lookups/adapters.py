"""The HTTP side of lookups, on a small thread pool so the SIP loop never waits.

The threads only do HTTP: they never call pjsua2 (whose objects belong to the
worker's main thread).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor

from hotline_media_nodes.lookups.logic import LookupFailed, answer_of

MAX_BODY = 64 * 1024


def fetch(url: str, field: str, timeout_seconds: float) -> str:
    """The answer's field; ``LookupFailed`` naming why not (timeout, status, body)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json",
                                                   "User-Agent": "hotline-media-node"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            body = response.read(MAX_BODY + 1)
    except urllib.error.HTTPError as err:
        raise LookupFailed(f"HTTP {err.code} from {url.split('?')[0]}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise LookupFailed(f"no answer within {timeout_seconds:g} s ({reason})") from None
    if len(body) > MAX_BODY:
        raise LookupFailed(f"answer larger than {MAX_BODY} bytes")
    return answer_of(body, field)


class Lookups:
    def __init__(self, workers: int = 4) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lookup")

    def start(self, url: str, field: str, timeout_seconds: float) -> Future[str]:
        return self.pool.submit(fetch, url, field, timeout_seconds)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
