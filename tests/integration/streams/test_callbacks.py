"""Callbacks on the real two-DC Cassandra and real Kafka: one dial per attempt, always.

The schedulers here are the production ``Scheduler`` (in-process, to race them or to
step a controllable clock) and the production entry point (a subprocess, to kill it
between claim and dial). Their dial commands are read back from Kafka. Each site's
schedulers change only their own site's callbacks (LOCAL_SERIAL in its datacenter);
a takeover moves them, fenced by the witness's token.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import traceback
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path

import pytest
from cassandra.cluster import Session

from devstack.cassandra import CassandraNode
from devstack.kafka import KafkaCluster
from helpers.callbacks import TEST_SOURCE, Clock, Topics, commands, stats
from helpers.cql import sessions_per_datacenter
from hotline_events.envelope import Event
from hotline_events.models import EventModel
from hotline_events.models.callbacks import (
    CallbackCancelled,
    CallbackFailed,
    CallbackRequested,
    CallbackScheduled,
    DialCallback,
)
from hotline_events.models.calls import CallAnswered, CallOffered
from hotline_events.models.identity import CallerIdentified
from hotline_events.models.sites import SiteAdoptionRequested
from hotline_streams.callbacks.models import Callback, CallbackPolicy, QuietHours, Status
from hotline_streams.callbacks.scheduler import CRASH_AFTER_ENV, Scheduler
from hotline_streams.callbacks.store import CallbackStore, ensure_schema

pytestmark = pytest.mark.integration

TOKEN = "ct1_" + "a" * 64


@pytest.fixture(scope="module")
def sessions(cassandra_two_dc: dict[str, CassandraNode]) -> Iterator[dict[str, Session]]:
    with sessions_per_datacenter(cassandra_two_dc) as sessions:
        yield sessions


@pytest.fixture(scope="module")
def keyspace(sessions: dict[str, Session]) -> str:
    name = f"callbacks_{uuid.uuid4().hex[:8]}"
    ensure_schema(sessions["dc-a"], name, {"dc-a": 1, "dc-b": 1})
    return name


@pytest.fixture(scope="module")
def stores(sessions: dict[str, Session], keyspace: str) -> dict[str, CallbackStore]:
    """Site-a's store on either datacenter (as site-a's schedulers and a reader in dc-b
    see it), and site-b's on dc-b."""
    return {"dc-a": CallbackStore(sessions["dc-a"], keyspace, site="site-a"),
            "dc-b": CallbackStore(sessions["dc-b"], keyspace, site="site-a"),
            "site-b": CallbackStore(sessions["dc-b"], keyspace, site="site-b")}


@pytest.fixture
def topics(kafka_site_a: KafkaCluster) -> Topics:
    return Topics.fresh(kafka_site_a.bootstrap)


def new_callback(tenant: str, *, now: float, priority: int = 0, **changes: object) -> Callback:
    callback_id = f"cb-{uuid.uuid4().hex[:12]}"
    cb = Callback(callback_id=callback_id, tenant=tenant, queue="billing",
                  call_id=f"call-{callback_id}", caller_token=TOKEN,
                  caller_number="+4930555000", reason="caller-request", priority=priority,
                  original_enqueued_at=now - 120, requested_at=now - 60,
                  window_start=now - 60, window_end=now + 3600, owner_site="site-a",
                  due_at=now - 60)
    return replace(cb, **changes)  # type: ignore[arg-type]


def test_a_callback_stored_and_claimed_in_dc_a_is_replicated_to_dc_b(
    stores: dict[str, CallbackStore],
) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    cb = new_callback(tenant, now=time.time())
    assert stores["dc-a"].create(cb)
    assert not stores["dc-a"].create(cb), "a replayed request must not create a second one"
    claimed = stores["dc-a"].change(cb, status=Status.CLAIMED, claim_id="a", attempt=1)
    assert claimed is not None
    # Its version moved on: a compare-and-set on the old one loses.
    assert stores["dc-a"].change(cb, status=Status.CLAIMED, claim_id="b", attempt=1) is None
    final = stores["dc-a"].get(tenant, cb.callback_id, serial=True)
    assert final is not None and final.claim_id == "a" and final.version == 1
    deadline = time.monotonic() + 30
    seen = stores["dc-b"].get(tenant, cb.callback_id)
    while (seen is None or seen.version < 1) and time.monotonic() < deadline:
        time.sleep(0.1)  # LOCAL_QUORUM in dc-a; dc-b's replica is written asynchronously
        seen = stores["dc-b"].get(tenant, cb.callback_id)
    assert seen == claimed
    # Site-b's partition holds none of it: its schedulers never see site-a's callbacks.
    assert stores["site-b"].open_callbacks(tenant) == []


def test_two_schedulers_of_a_site_dial_each_callback_exactly_once_and_the_other_site_none(
    stores: dict[str, CallbackStore], topics: Topics,
) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    now = time.time()
    created = [new_callback(tenant, now=now, original_enqueued_at=now - 300 + i)
               for i in range(24)]
    for cb in created:
        assert stores["dc-a"].create(cb)
    ids = {cb.callback_id for cb in created}
    policy = CallbackPolicy(claim_ttl_s=60)
    # Two schedulers of site-a race on its partition (LOCAL_SERIAL in dc-a); site-b's,
    # in dc-b with agents free, must leave site-a's callbacks alone.
    schedulers = [Scheduler(stores["dc-a"], topics.producer(f"//hotline/site-a/callbacks/a{n}"),
                            site="site-a", instance=f"a{n}", policy_of=lambda _t: policy)
                  for n in (1, 2)]
    site_b = Scheduler(stores["site-b"], topics.producer("//hotline/site-b/callbacks/b1"),
                       site="site-b", instance="b1", policy_of=lambda _t: policy,
                       datacenter="dc-b")
    for scheduler in (*schedulers, site_b):
        scheduler.handle(Event(data=stats(tenant, agents_ready=100), source=TEST_SOURCE))
    start = threading.Barrier(3)
    errors: list[str] = []

    def race(scheduler: Scheduler) -> None:
        start.wait()
        try:
            for _round in range(6):
                scheduler.tick()
        except BaseException:
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=race, args=(s,)) for s in (*schedulers, site_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert errors == [], errors[0]
    assert all(s.tick_problem is None for s in (*schedulers, site_b))
    reader = topics.reader(DialCallback)
    dials = reader.poll_until(lambda _e: (found := commands(reader, ids)) and
                              len({e.data.callback_id for e in found}) == len(ids) and found,
                              timeout=60)
    per_callback = Counter(e.data.callback_id for e in dials)  # type: ignore[attr-defined]
    assert set(per_callback) == ids
    assert set(per_callback.values()) == {1}, per_callback
    assert sum(s.dialled for s in schedulers) == len(ids) and site_b.dialled == 0
    assert all(s.dialled > 0 for s in schedulers) or len(ids) < 4  # both really raced
    for cb in created:
        stored = stores["dc-a"].get(tenant, cb.callback_id, serial=True)
        assert stored is not None and stored.status is Status.COMMANDED and stored.attempt == 1


@pytest.mark.parametrize("crash_after", ["claim", "command"])
def test_a_scheduler_killed_between_claim_and_dial_is_resumed_with_one_dial(
    cassandra_two_dc: dict[str, CassandraNode], stores: dict[str, CallbackStore],
    keyspace: str, topics: Topics, tmp_path: Path, crash_after: str,
) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    node = cassandra_two_dc["dc-a"]
    policies = tmp_path / "policies.yaml"
    policies.write_text(f"{tenant}: {{claim_ttl_s: 3}}\n")
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    callback_id = f"cb-{uuid.uuid4().hex[:8]}"
    producer = topics.producer()
    for data in (
        CallerIdentified(call_id=call_id, tenant=tenant, caller_number="+4930555111",
                         caller_token=TOKEN),
        CallbackRequested(callback_id=callback_id, call_id=call_id, tenant=tenant,
                          queue="billing", reason="caller-request", caller_token=TOKEN,
                          original_enqueued_at=datetime.now(UTC)),
        stats(tenant, agents_ready=1),
    ):
        producer.publish(data)
    producer.flush()

    def scheduler(crash: str | None, n: int) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k != CRASH_AFTER_ENV}
        if crash:
            env[CRASH_AFTER_ENV] = crash
        return subprocess.Popen(
            [sys.executable, "-m", "hotline_streams.callbacks", "run",
             "--kafka", topics.bootstrap, "--topic-prefix", topics.prefix,
             "--cassandra", f"{node.address}:{node.port}", "--datacenter", "dc-a",
             "--keyspace", keyspace, "--site", "site-a", "--instance", f"sched-{n}",
             "--policies", str(policies), "--tick-seconds", "0.2", "--http", "127.0.0.1:0"],
            env=env, stdout=subprocess.PIPE, stderr=(tmp_path / f"sched-{n}.log").open("wb"))

    first = scheduler(crash_after, 1)
    try:
        assert first.wait(120) == 3, (tmp_path / "sched-1.log").read_text()[-3000:]
    finally:
        first.kill()
    claimed = stores["dc-a"].get(tenant, callback_id, serial=True)
    assert claimed is not None and claimed.status is Status.CLAIMED and claimed.attempt == 1
    reader = topics.reader(DialCallback)
    second = scheduler(None, 2)
    try:
        assert second.stdout is not None
        web = second.stdout.readline().decode().split()[1]  # "http http://host:port"
        assert second.stdout.readline().startswith(b"ready")
        producer.publish(stats(tenant, agents_ready=1))  # the restarted view of the queue
        producer.flush()
        deadline = time.monotonic() + 90
        settled = claimed
        while settled.status is not Status.COMMANDED and time.monotonic() < deadline:
            time.sleep(0.2)  # the claim must expire first (3 s): nothing to wait on but time
            settled = stores["dc-a"].get(tenant, callback_id, serial=True) or settled
        assert settled.status is Status.COMMANDED, (tmp_path / "sched-2.log").read_text()[-3000:]
        assert settled.attempt == 1 and settled.claim_owner == "sched-2"
        expected = 2 if crash_after == "command" else 1
        reader.poll_until(lambda _e: len(commands(reader, {callback_id})) >= expected,
                          timeout=30)
        sent = commands(reader, {callback_id})
        # After a crash past the send, the resumed attempt repeats the same command id:
        # one dial for the media node, which drops the copy by ce_id.
        assert len({e.id for e in sent}) == 1
        assert len(sent) == expected
        assert {e.data.attempt for e in sent} == {1}  # type: ignore[attr-defined]
        scraped = urllib.request.urlopen(f"{web}/metrics", timeout=10).read().decode()
        dialled = re.compile(r'hotline_callbacks_dialled_total\{[^}]*tenant="' + tenant
                             + r'"[^}]*\} 1\.0')
        assert dialled.search(scraped), scraped[-2000:]
        with urllib.request.urlopen(f"{web}/healthz", timeout=10) as health:
            assert json.load(health)["status"] == "ok"
    finally:
        second.terminate()
        second.wait(30)


def test_retries_expiry_cancellation_and_quiet_hours(
    stores: dict[str, CallbackStore], topics: Topics,
) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
    clock = Clock(start)
    policy = CallbackPolicy(max_attempts=2, retry_backoff_s=60, claim_ttl_s=30,
                            quiet_hours=QuietHours(clock_time(21, 0), clock_time(8, 0)))
    store = stores["dc-a"]
    scheduler = Scheduler(store, topics.producer("//hotline/site-a/callbacks/clock"),
                          site="site-a", instance="clock", policy_of=lambda _t: policy,
                          clock=clock, refresh_s=0)
    scheduler.handle(Event(data=stats(tenant, agents_ready=5), source=TEST_SOURCE))

    def node_says(data: EventModel) -> None:
        scheduler.handle(Event(data=data, source="//hotline/site-a/media-nodes/mn-0"))

    retried = new_callback(tenant, now=start)
    assert store.create(retried)
    assert scheduler.tick() == 1
    node_says(CallbackFailed(callback_id=retried.callback_id, call_id=retried.call_id,
                             tenant=tenant, attempt=1, reason="no-answer", will_retry=True))
    after = store.get(tenant, retried.callback_id)
    assert after is not None and after.status is Status.PENDING and after.due_at == start + 60
    assert scheduler.tick() == 0, "dialled again before the backoff"
    clock.now = start + 61
    assert scheduler.tick() == 1
    node_says(CallbackFailed(callback_id=retried.callback_id, call_id=retried.call_id,
                             tenant=tenant, attempt=2, reason="busy", will_retry=False))
    gone = store.get(tenant, retried.callback_id)
    assert gone is not None and gone.status is Status.CANCELLED and gone.outcome == "max-attempts"

    # The same caller gets through on their own: their pending callback is void.
    voided = new_callback(tenant, now=clock.now, window_start=clock.now + 600,
                          due_at=clock.now + 600, caller_token="ct1_" + "b" * 64)
    assert store.create(voided)
    node_says(CallOffered(call_id="inbound-1", tenant=tenant, site="site-a", media_node="mn-0",
                          dialled_number="+498001234", caller_token=voided.caller_token))
    node_says(CallAnswered(call_id="inbound-1", tenant=tenant, queue="billing",
                           agent_id="agent-7", wait_seconds=12))
    assert (v := store.get(tenant, voided.callback_id)) is not None
    assert v.outcome == "caller-called-again"

    # Its window ends before it is dialled: expired, never dialled.
    expiring = new_callback(tenant, now=clock.now, window_end=clock.now + 5,
                            window_start=clock.now + 1, due_at=clock.now + 1)
    assert store.create(expiring)
    clock.now += 6
    scheduler.tick()
    assert (e := store.get(tenant, expiring.callback_id)) is not None and e.outcome == "expired"

    # Requested at 22:30 UTC: quiet until 08:00, then dialled.
    night = datetime(2026, 11, 23, 22, 30, tzinfo=UTC).timestamp()
    clock.now = night
    late = new_callback(tenant, now=night, window_end=night + 86400)
    assert store.create(late)
    assert scheduler.tick() == 0
    clock.now = datetime(2026, 11, 24, 8, 0, 1, tzinfo=UTC).timestamp()
    assert scheduler.tick() == 1

    reader = topics.reader(CallbackCancelled)
    want = {(retried.callback_id, "max-attempts"), (voided.callback_id, "caller-called-again"),
            (expiring.callback_id, "expired")}
    reader.poll_until(lambda events: want <= {
        (e.data.callback_id, e.data.reason) for e in events  # type: ignore[attr-defined]
        if isinstance(e.data, CallbackCancelled)}, timeout=30)
    scheduled = topics.reader(CallbackScheduled)
    scheduled.poll_until(lambda events: any(
        isinstance(e.data, CallbackScheduled) and e.data.callback_id == retried.callback_id
        and e.data.attempt == 2 for e in events), timeout=30)
    dials = topics.reader(DialCallback)
    found = dials.poll_until(lambda _e: len(commands(dials, {retried.callback_id,
                                                                late.callback_id})) == 3
                             and commands(dials, {retried.callback_id, late.callback_id}),
                             timeout=30)
    assert sorted((e.data.callback_id, e.data.attempt) for e in found) == sorted(  # type: ignore[attr-defined]
        [(retried.callback_id, 1), (retried.callback_id, 2), (late.callback_id, 1)])


def test_the_surviving_site_adopts_the_failed_sites_open_callbacks_fenced_by_the_token(
    stores: dict[str, CallbackStore], topics: Topics,
) -> None:
    tenant = f"t{uuid.uuid4().hex[:6]}"
    now = time.time()
    theirs = [new_callback(tenant, now=now, owner_site="site-b") for _ in range(3)]
    ours = new_callback(tenant, now=now)
    for cb in theirs:
        assert stores["site-b"].create(cb)
    assert stores["dc-a"].create(ours)
    deadline = time.monotonic() + 30
    while len(stores["dc-a"].open_callbacks(tenant, "site-b")) < 3:
        assert time.monotonic() < deadline, "site-b's callbacks never reached dc-a"
        time.sleep(0.1)  # dc-b's writes reach dc-a asynchronously

    def scheduler(site: str, store: CallbackStore, dc: str) -> Scheduler:
        made = Scheduler(store, topics.producer(f"//hotline/{site}/callbacks/{dc}"),
                         site=site, instance=site, policy_of=lambda _t: CallbackPolicy(),
                         refresh_s=0, datacenter=dc)
        made.handle(Event(data=stats(tenant, agents_ready=10), source=TEST_SOURCE))
        return made

    site_a = scheduler("site-a", stores["dc-a"], "dc-a")
    site_a.tick()
    assert site_a.dialled == 1, "site-a dialled another site's callbacks before adopting"
    # The operator's adoption command (after its SiteFailover) moves them here.
    command = SiteAdoptionRequested(site="site-b", adopted_by="site-a", fencing_token=7,
                                    scope=("callbacks", "sla-intervals"))
    site_a.handle(Event(data=command, source="//hotline/site-a/operator/op-0"))
    stale = SiteAdoptionRequested(site="site-b", adopted_by="site-a", fencing_token=5,
                                  scope=("callbacks",))  # an older takeover's, late
    site_a.handle(Event(data=stale, source="//hotline/site-a/operator/op-0"))
    assert site_a.ownership.refused == 1
    site_a.adopt("site-b", 7)  # the same command again: nothing moves twice
    site_a.tick()
    # The failed site comes back believing it still owns them: it reconciles first.
    site_b = scheduler("site-b", stores["site-b"], "dc-b")
    site_b.tick()
    assert site_b.ownership.may_dial and site_b.ownership.acknowledged == 7
    assert (site_a.dialled, site_b.dialled) == (4, 0)
    for cb in theirs:
        copy = stores["dc-a"].get(tenant, cb.callback_id, serial=True)
        assert copy is not None and copy.owner_site == "site-a"
        assert (copy.status, copy.adopted_from, copy.adoption_token) == (
            Status.COMMANDED, "site-b", 7)
        closed = stores["site-b"].get(tenant, cb.callback_id)
        assert closed is not None and closed.outcome == "adopted-by-site-a"
    assert stores["site-b"].open_callbacks(tenant) == []
    reader = topics.reader(DialCallback)
    ids = {cb.callback_id for cb in (*theirs, ours)}
    dials = reader.poll_until(lambda _e: len(commands(reader, ids)) >= 4
                              and commands(reader, ids), timeout=30)
    assert sorted(Counter(e.data.callback_id for e in dials).values()) == [1, 1, 1, 1]  # type: ignore[attr-defined]
