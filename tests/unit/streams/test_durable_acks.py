"""DurableAcks' rules around a rebalance, on stand-ins for the faust stream and app (the
integration tests run them on a real worker): an event processed across a revocation
is never acked, faust's own acks of skipped messages do not count, and a revocation
waits for the table writes already queued."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from hotline_streams import durable
from hotline_streams.durable import DurableAcks, is_durable


@dataclass(eq=False)  # hashed by identity, like faust's messages (weakly referenced)
class Message:
    topic: str
    partition: int
    offset: int


@dataclass
class Record:
    message: Message


@dataclass
class Channel:
    topics: tuple[str, ...]


@dataclass
class Stream:
    records: list[Record]
    channel: Channel
    acked: list[int] = field(default_factory=list)

    async def events(self) -> AsyncIterator[Record]:
        for record in self.records:
            yield record

    async def ack(self, record: Record) -> bool:
        self.acked.append(record.message.offset)
        return True


class Signal:
    def __init__(self) -> None:
        self.receivers: list[Callable[..., Any]] = []

    def connect(self, receiver: Callable[..., Any]) -> None:
        self.receivers.append(receiver)

    async def send(self, revoked: Any) -> None:
        for receiver in self.receivers:
            await receiver(self, revoked)


class App:
    def __init__(self) -> None:
        self.on_partitions_revoked = Signal()

    async def crash(self, exc: BaseException) -> None:
        raise AssertionError(f"crashed: {exc!r}")


class Outbox:
    def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def run(records: list[Record], revoke_at: int | None) -> list[int]:
    """Process every record (settled), revoking while the one at ``revoke_at`` is in
    flight; the offsets acked once everything is drained."""
    stream = Stream(records, Channel(("t-tenant-events",)))
    app = App()

    async def main() -> list[int]:
        acks = DurableAcks(stream, app, Outbox())  # type: ignore[arg-type]
        async for record in acks.events():
            if record.message.offset == revoke_at:
                await app.on_partitions_revoked.send({"revoked"})  # mid-processing
            acks.done(record)
            for _ in range(5):  # let the acker drain (it acks what Kafka has confirmed)
                await asyncio.sleep(0)
        return stream.acked

    return asyncio.run(main())


def records(offsets: range) -> list[Record]:
    return [Record(Message("t-tenant-events", 3, n)) for n in offsets]


def test_events_are_acked_in_order_without_a_rebalance() -> None:
    assert run(records(range(5)), revoke_at=None) == [0, 1, 2, 3, 4]


def test_an_event_processed_across_a_revocation_is_not_acked() -> None:
    # 2 was received before the revocation and finished after it: its effect was on the
    # state the revocation dropped, so it is left for the re-delivery.
    assert run(records(range(5)), revoke_at=2) == [0, 1, 3, 4]


def test_faust_acks_of_skipped_messages_do_not_count_on_durable_topics() -> None:
    run(records(range(2)), revoke_at=None)
    skipped = Message("t-tenant-events", 3, 7)  # never processed: faust acks it anyway
    assert not is_durable(skipped)
    assert is_durable(Message("other-topic", 0, 7))  # topics not read with DurableAcks
    processed = Message("t-tenant-events", 3, 8)
    durable._DURABLE.add(processed)  # what the acker does before it acks
    assert is_durable(processed)


@dataclass
class ChangelogTopic:
    name: str

    def get_topic_name(self) -> str:
        return self.name


@dataclass
class Table:
    changelog_topic: ChangelogTopic
    data: dict[bytes, bytes] = field(default_factory=dict)


class HeldOutbox:
    """Sends that Kafka acknowledges only when the test says so."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, asyncio.Future[None]]] = []

    def send(self, topic: str, key: bytes, value: bytes, **kwargs: Any) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, key, done))
        return done


def test_a_revocation_waits_until_the_queued_table_writes_are_acknowledged() -> None:
    # The next owner restores the changelog once assigned: a write of ours landing after
    # its own writes would stand there as the newest (older) state.
    stream = Stream(records(range(1)), Channel(("t-tenant-events",)))
    app = App()
    outbox = HeldOutbox()
    table = Table(ChangelogTopic("t-sla-changelog"))

    async def main() -> None:
        acks = DurableAcks(stream, app, outbox)  # type: ignore[arg-type]
        async for record in acks.events():
            acks.put(table, 3, b"B/acme", b"book")
            acks.done(record)
        while not outbox.sent:
            await asyncio.sleep(0)  # the acker sends the write
        revocation = asyncio.ensure_future(app.on_partitions_revoked.send({"revoked"}))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not revocation.done(), "the revocation went on with a write unacknowledged"
        outbox.sent[0][2].set_result(None)  # Kafka acknowledges the write
        await asyncio.wait_for(revocation, 5)
        assert stream.acked == []  # an event of the old assignment: re-delivered, not acked

    asyncio.run(main())
    assert [(topic, key) for topic, key, _ in outbox.sent] == [("t-sla-changelog", b"B/acme")]
    assert table.data == {b"B/acme": b"book"}


def test_a_revocation_with_nothing_queued_goes_on_at_once() -> None:
    stream = Stream(records(range(2)), Channel(("t-tenant-events",)))
    app = App()

    async def main() -> None:
        acks = DurableAcks(stream, app, Outbox())  # type: ignore[arg-type]
        async for record in acks.events():
            acks.done(record)
        for _ in range(5):
            await asyncio.sleep(0)
        await asyncio.wait_for(app.on_partitions_revoked.send({"revoked"}), 1)

    asyncio.run(main())
    assert stream.acked == [0, 1]
