"""Reading one topic, every partition, from a point in time (no consumer group).

For shadows rebuilt from a topic after a restart (a peer's mirrored topics): there is
no offset to commit, so there is none to lose.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from hotline_events.envelope import Event, decode, refuse_if_ahead
from hotline_events.errors import ContractError

log = logging.getLogger("hotline_streams.follower")


class TopicFollower:
    """Every partition of one topic from ``since`` on, assigned (no group): the shadow
    is rebuilt from the topic after a restart, so there is no offset to commit.

    A mirrored topic exists only once MirrorMaker 2 has seen the peer's: until then
    the follower keeps asking for it.
    """

    def __init__(self, bootstrap: str, topic: str, since_s: float,
                 group_prefix: str = "follower") -> None:
        self.topic = topic
        self.since_ms = int(since_s * 1000)
        self.consumer = Consumer({"bootstrap.servers": bootstrap,
                                  "group.id": f"{group_prefix}-{uuid.uuid4()}",
                                  "enable.auto.commit": False,
                                  "auto.offset.reset": "earliest", "logger": log})
        self.assigned = False
        self.ends: dict[int, int] = {}  # partition → high watermark when assigned
        self.positions: dict[int, int] = {}
        self.skipped = 0
        self._next_check = 0.0

    def _assign(self) -> bool:
        if self.assigned:
            return True
        if time.monotonic() < self._next_check:
            return False
        self._next_check = time.monotonic() + 1.0
        try:
            metadata = self.consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
            if metadata is None or metadata.error is not None or not metadata.partitions:
                return False
            wanted = [TopicPartition(self.topic, p, self.since_ms) for p in metadata.partitions]
            starts = self.consumer.offsets_for_times(wanted, timeout=10)
            ends = {tp.partition: self.consumer.get_watermark_offsets(tp, timeout=10)[1]
                    for tp in starts}
        except KafkaException as exc:
            # A topic just created (no leader yet) or a broker away: ask again shortly.
            log.warning("cannot read the offsets of %s yet (%s); retrying in 1 s",
                        self.topic, exc)
            return False
        for tp in starts:
            self.ends[tp.partition] = ends[tp.partition]
            # No record at or after ``since``: start at the end (offset -1 means that).
            self.positions[tp.partition] = ends[tp.partition] if tp.offset < 0 else tp.offset
        self.consumer.assign([TopicPartition(self.topic, p, o)
                              for p, o in self.positions.items()])
        self.assigned = True
        log.info("following %s from %s (offsets %s)", self.topic,
                 datetime.fromtimestamp(self.since_ms / 1000, UTC).isoformat(), self.positions)
        return True

    def caught_up(self) -> bool:
        """Read up to where the topic ended when it was assigned (a topic not there yet
        counts as caught up: there is nothing to read)."""
        if not self._assign():
            return True
        return all(self.positions.get(p, 0) >= end for p, end in self.ends.items())

    def poll(self, timeout_s: float) -> tuple[Event, float] | None:
        """The next decodable event and its record's timestamp (seconds), or None."""
        if not self._assign():
            time.sleep(min(timeout_s, 0.2))  # the topic is not there yet
            return None
        msg: Message | None = self.consumer.poll(timeout_s)
        if msg is None:
            return None
        error = msg.error()
        if error is not None:
            if error.code() not in (KafkaError._PARTITION_EOF,):
                log.warning("reading %s: %s; going on", self.topic, error)
            return None
        partition, offset = msg.partition() or 0, msg.offset() or 0
        self.positions[partition] = offset + 1
        try:
            event = decode(msg.headers(), msg.value())
            refuse_if_ahead(event, time.time())
        except ContractError as exc:
            # Not ours to dead-letter (the producing site's consumers do that on its
            # own topic); counted and logged, the shadow goes on without it.
            self.skipped += 1
            log.error("%s[%d]@%d is not a valid contract event (%s); skipped, the "
                      "shadow goes on (%d skipped so far)", self.topic, partition, offset,
                      exc, self.skipped)
            return None
        _kind, stamp = msg.timestamp()
        return event, (stamp / 1000 if stamp and stamp > 0 else time.time())

    def close(self) -> None:
        self.consumer.close()
