"""What a callback scheduler does with a failure: retried, left for later or dead-lettered,
reported naming the consistency and datacenter, and never in the way of SIGTERM."""

from __future__ import annotations

import threading
import time

import pytest
from cassandra import ConsistencyLevel, InvalidRequest, Unavailable, WriteTimeout
from cassandra.cluster import NoHostAvailable

from hotline_events.producer import ProducerError
from hotline_streams.callbacks.resilience import (
    describe,
    guarded,
    is_transient,
    local_datacenter_lost,
    retrying,
)
from hotline_streams.callbacks.store import StoreError
from hotline_streams.callbacks.web import Health


def unavailable(level: int, alive: int = 0) -> Unavailable:
    return Unavailable(f"Cannot achieve consistency level "
                       f"{ConsistencyLevel.value_to_name[level]}", consistency=level,
                       required_replicas=1, alive_replicas=alive)


@pytest.mark.parametrize(("exc", "transient"), [
    (unavailable(ConsistencyLevel.LOCAL_SERIAL), True),
    (WriteTimeout("timed out", consistency=ConsistencyLevel.LOCAL_QUORUM, write_type=5),
     True),
    (NoHostAvailable("none", {}), True),
    (StoreError("CAS result unknown"), True),
    (ProducerError("no ack"), True),
    (InvalidRequest("unconfigured table"), False),
    (ValueError("bad window"), False),
])
def test_passing_failures_are_told_from_lasting_ones(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_a_failure_says_which_consistency_and_which_datacenter() -> None:
    each = describe(unavailable(ConsistencyLevel.EACH_QUORUM), "dc-a", down={"dc-b"})
    assert "EACH_QUORUM" in each and "across datacenters" in each and "dc-b" in each
    local = describe(unavailable(ConsistencyLevel.LOCAL_SERIAL), "dc-a")
    assert "LOCAL_SERIAL in dc-a" in local and "0 of 1 replicas alive" in local
    assert "dc-a" in describe(NoHostAvailable("none", {}), "dc-a")


def test_only_this_sites_own_datacenter_failing_calls_for_a_new_reconciliation() -> None:
    assert local_datacenter_lost(unavailable(ConsistencyLevel.LOCAL_QUORUM))
    assert local_datacenter_lost(NoHostAvailable("none", {}))
    assert not local_datacenter_lost(unavailable(ConsistencyLevel.EACH_QUORUM))
    assert not local_datacenter_lost(WriteTimeout("slow", write_type=5))


def test_retries_are_bounded_and_a_lasting_failure_is_not_retried() -> None:
    stopping = threading.Event()
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise unavailable(ConsistencyLevel.LOCAL_SERIAL)
        return "stored"

    assert retrying(stopping, 3, first_wait_s=0.01)(flaky) == "stored"
    calls.clear()

    def down() -> None:
        calls.append(1)
        raise unavailable(ConsistencyLevel.LOCAL_SERIAL)

    with pytest.raises(Unavailable):
        retrying(stopping, 2, first_wait_s=0.01)(down)
    assert len(calls) == 2
    calls.clear()

    def broken() -> None:
        calls.append(1)
        raise ValueError("never")

    with pytest.raises(ValueError):
        retrying(stopping, 5, first_wait_s=0.01)(broken)
    assert len(calls) == 1


def test_a_stop_ends_a_retry_in_its_backoff_at_once() -> None:
    stopping = threading.Event()

    def down() -> None:
        raise unavailable(ConsistencyLevel.LOCAL_SERIAL)

    threading.Timer(0.2, stopping.set).start()
    started = time.monotonic()
    with pytest.raises(Unavailable):
        retrying(stopping, 100, first_wait_s=30.0, max_wait_s=30.0)(down)
    assert time.monotonic() - started < 5.0


def test_one_callbacks_failure_is_reported_and_skipped() -> None:
    seen: list[BaseException] = []
    result = guarded(threading.Event(), 2, lambda: "callback cb-1: dialling",
                     lambda: (_ for _ in ()).throw(unavailable(ConsistencyLevel.LOCAL_SERIAL)),
                     seen.append)
    assert result is None and isinstance(seen[0], Unavailable)
    assert guarded(threading.Event(), 2, lambda: "ok", lambda: 5, seen.append) == 5


def test_readiness_says_why_this_site_does_not_dial_while_liveness_stays_up() -> None:
    health = Health()
    health.last_tick_ok = time.monotonic()
    assert health.report()[0] == 200
    health.not_dialling = "cannot verify that site-b was not taken over while away"
    code, body = health.report()
    assert code == 503 and body["status"] == "not-dialling"
    assert body["not_dialling"] == health.not_dialling
    assert health.alive()
    health.problem = "callback cb-1: Cassandra cannot achieve LOCAL_SERIAL in dc-a"
    assert health.report()[1]["status"] == "degraded"
