"""The failover controller's I/O: heartbeats on Kafka, the witness, direct probes."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from hotline_events.catalog import default_catalog, mirrored
from hotline_events.envelope import decode
from hotline_events.errors import ContractError
from hotline_events.models.sites import SiteHeartbeat
from hotline_operators.failover.logic import heartbeat_refusal
from hotline_operators.failover.models import WitnessAnswer
from hotline_operators.witness.signing import sign

log = logging.getLogger("hotline.operator.failover")


class PeerHeartbeats:
    """The newest heartbeat time of each peer, read from its mirrored topic here.

    The topic is small and compacted, so it is read from the start and followed;
    the time is the heartbeat's own ce_time, so MirrorMaker lag counts as silence.
    """

    def __init__(self, bootstrap: str, peers: tuple[str, ...]) -> None:
        topic = default_catalog().topic_for_type(SiteHeartbeat.TYPE).name
        self.topics = {mirrored(peer, topic): peer for peer in peers}
        self.last: dict[str, float] = {}
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                                   "enable.auto.commit": False,
                                   "auto.offset.reset": "earliest",
                                   "logger": log})
        self._assigned: set[str] = set()
        self.refused = 0

    def _assign_new(self) -> None:
        # A peer's mirrored topic appears only once MirrorMaker has seen it.
        if len(self._assigned) == len(self.topics):
            return
        known = self._consumer.list_topics(timeout=2).topics
        ready = {t for t in self.topics if t in known}
        if ready != self._assigned:
            self._assigned = ready
            self._consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t in ready
                                   for p in known[t].partitions])

    def poll(self) -> dict[str, float]:
        self._assign_new()
        while True:
            msg = self._consumer.poll(0.05)
            if msg is None:
                break
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("reading peer heartbeats: %s", error)
                break
            try:
                event = decode(msg.headers(), msg.value())
            except ContractError as exc:
                log.warning("ignoring a malformed heartbeat on %s@%s: %s", msg.topic(),
                            msg.offset(), exc)
                continue
            peer = self.topics.get(msg.topic() or "")
            if isinstance(event.data, SiteHeartbeat) and peer is not None:
                at, now = event.time.timestamp(), time.time()
                refused = heartbeat_refusal(peer=peer, site=event.data.site,
                                            source=event.source, at=at, now=now)
                if refused is not None:
                    self.refused += 1
                    log.warning("ignoring heartbeat %s on %s@%s for %s: %s; it does not "
                                "count as %s alive (%d ignored so far)", event.id,
                                msg.topic(), msg.offset(), peer, refused, peer, self.refused)
                    continue
                # Within the skew, a heartbeat counts as heard now, never later.
                self.last[peer] = max(self.last.get(peer, 0.0), min(at, now))
        return self.last

    def close(self) -> None:
        self._consumer.close()


def probe(url: str | None, timeout: float = 1.0) -> bool | None:
    """A direct health probe of a peer: True on 2xx, False otherwise, None if none set."""
    if url is None:
        return None
    try:
        return requests.get(url, timeout=timeout).ok
    except requests.RequestException:
        return False


class WitnessClient:
    """The witness over HTTP, each POST signed with this site's key (``signing``)."""

    def __init__(self, url: str, site: str, key: bytes | None, timeout: float = 2.0) -> None:
        self.url = url.rstrip("/")
        self.site = site
        self.key = key
        self.timeout = timeout
        self._refusals_logged_at = 0.0
        if key is None:
            log.error("no witness key for %s (HOTLINE_WITNESS_KEYS_DIR/%s): its requests "
                      "go unsigned, and a witness that checks signatures refuses them, so "
                      "%s can take no peer over", site, site, site)

    def _post(self, path: str, body: dict[str, Any]) -> requests.Response:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.key is not None:
            headers.update(sign(self.site, self.key, "POST", path, data, time.time()))
        answer = requests.post(self.url + path, data=data, headers=headers,
                               timeout=self.timeout)
        if answer.status_code in (401, 403) and time.monotonic() - self._refusals_logged_at > 60:
            self._refusals_logged_at = time.monotonic()
            log.error("the witness at %s refused %s's %s: HTTP %d %s; check the site's "
                      "witness key", self.url, self.site, path, answer.status_code,
                      _reason(answer))
        return answer

    def heartbeat(self, site: str) -> bool:
        try:
            return self._post("/heartbeat", {"site": site}).ok
        except requests.RequestException:
            return False

    def request_takeover(self, holder: str, failed: str) -> tuple[WitnessAnswer, int, str]:
        try:
            answer = self._post("/takeover", {"holder": holder, "failed_site": failed})
        except requests.RequestException as exc:
            return WitnessAnswer.UNREACHABLE, 0, str(exc)
        if answer.status_code == 200:
            return WitnessAnswer.GRANTED, int(answer.json()["token"]), "granted"
        if answer.status_code == 409:
            return WitnessAnswer.REFUSED, 0, str(answer.json().get("reason", ""))
        # 503: the witness runs but its store (etcd) does not answer; 401/403: it does
        # not take this site's signature. No decision either way, so the same as no
        # answer: asked again at the next heartbeat.
        return WitnessAnswer.UNREACHABLE, 0, f"HTTP {answer.status_code}: {_reason(answer)}"

    def release(self, failed: str, token: int) -> bool:
        try:
            return self._post("/release", {"failed_site": failed, "token": token}).ok
        except requests.RequestException:
            return False


def witness_key(site: str, directory: str | None) -> bytes | None:
    """This site's witness key from ``HOTLINE_WITNESS_KEYS_DIR`` (one file per site)."""
    if not directory:
        return None
    path = Path(directory) / site
    try:
        return path.read_bytes().strip() or None
    except OSError:
        return None


def _reason(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    return str(body.get("reason", body)) if isinstance(body, dict) else str(body)[:200]
