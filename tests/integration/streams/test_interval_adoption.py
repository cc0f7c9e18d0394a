"""A failed peer's open SLA interval, finished by the survivor over real two-site Kafka.

site-b's media node publishes calls on site-b's Kafka; MirrorMaker 2 mirrors them to
site-a as ``site-b.<topic>``; the adoption consumer of site-a shadows them. Once the
operator's SiteAdoptionRequested (on site-a's Kafka) names site-a, the interval is
published on site-a's SLA topic marked ``adopted_from: site-b`` — provisional at once,
final when it closes (10-second intervals here, so that happens within the test).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.kafka import KafkaCluster
from devstack.mirrormaker import MirrorMaker
from helpers.kafka_io import EventReader, produce, wait_for_topic
from hotline_events.catalog import Catalog, default_catalog, mirrored
from hotline_events.envelope import Event, encode
from hotline_events.models import EventModel
from hotline_events.models.calls import CallAbandoned, CallAnswered, CallQueued
from hotline_events.models.metrics import SlaInterval
from hotline_events.models.sites import SiteAdoptionRequested
from hotline_events.producer import EventProducer
from hotline_events.topics import ensure_topics

pytestmark = pytest.mark.integration

INTERVAL_S = 10


@pytest.fixture(scope="module")
def catalog(kafka_site_a: KafkaCluster, kafka_site_b: KafkaCluster,
            mirrormaker2: MirrorMaker) -> Catalog:
    isolated = default_catalog().prefixed(f"ia{uuid.uuid4().hex[:6]}.")
    for cluster in (kafka_site_a, kafka_site_b):
        ensure_topics(cluster.bootstrap, isolated)
    # MirrorMaker notices new topics every 2 s (devstack); the adopter waits anyway,
    # but the test's calls must not be produced before the mirror picks the topic up.
    wait_for_topic(kafka_site_a.bootstrap,
                   mirrored("site-b", isolated.topic_for_type(CallQueued.TYPE).name), 90)
    return isolated


@pytest.fixture(scope="module")
def adopter(kafka_site_a: KafkaCluster, catalog: Catalog,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    workdir = tmp_path_factory.mktemp("adoption")
    tenants = workdir / "tenants"
    tenants.mkdir()
    (tenants / "acme.yaml").write_text(yaml.safe_dump({"tenant": "acme", "queues": {
        "billing": {"required_skills": ["billing"],
                    "service_level": {"threshold_s": 20, "target": 0.8,
                                      "interval_s": INTERVAL_S}}}}))
    prefix = catalog.topic_for_type(CallQueued.TYPE).name.removesuffix("cc.call.events")
    log = workdir / "adopter.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline_streams.interval_adoption", "--kafka",
             kafka_site_a.bootstrap, "--site", "site-a", "--peer", "site-b",
             "--tenants-dir", str(tenants), "--topic-prefix", prefix, "--grace-seconds", "60",
             "--tick-seconds", "0.5"],
            stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until ready (or the process exits)
        assert line.startswith("ready"), f"adopter did not start:\n{log.read_text()}"
        yield log
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, log.read_text()[-3000:]


def call_events(now: datetime) -> list[EventModel]:
    """Three calls queued a second ago: two answered within T, one abandoned."""
    queued = datetime.fromtimestamp(now.timestamp() - 1, UTC)
    out: list[EventModel] = []
    for call, outcome in (("ia-1", "answered"), ("ia-2", "abandoned"), ("ia-3", "answered")):
        out.append(CallQueued(call_id=call, tenant="acme", queue="billing", enqueued_at=queued))
        out.append(CallAnswered(call_id=call, tenant="acme", queue="billing", agent_id="a1",
                                wait_seconds=0.5) if outcome == "answered" else
                   CallAbandoned(call_id=call, tenant="acme", stage="queue", queue="billing",
                                 wait_seconds=0.5))
    return out


def test_the_survivor_finishes_the_peers_open_interval(
        kafka_site_a: KafkaCluster, kafka_site_b: KafkaCluster, catalog: Catalog,
        adopter: Path) -> None:
    # Wait for a fresh interval, so its three calls (queued a second before) land in
    # one and it stays open until after the adoption below.
    while not 1.5 <= time.time() % INTERVAL_S <= 3:
        time.sleep(0.05)  # aligning to the wall clock's interval boundary
    now = datetime.now(UTC)
    calls = catalog.topic_for_type(CallQueued.TYPE).name
    site_b = EventProducer(kafka_site_b.bootstrap, "//hotline/site-b/media-node/mn-b-1",
                           catalog=catalog)
    for data in call_events(now):
        site_b.publish_event(Event(data=data, source=site_b.source, time=now))
    site_b.flush(10)
    # A record that is no contract event: skipped with a log line, nothing else lost.
    produce(kafka_site_b.bootstrap, calls, [(b"ia-x", b"not an event")])
    # The operator's command, twice (a resumed failover re-publishes it), after one
    # naming another adopter.
    site_a = EventProducer(kafka_site_a.bootstrap, "//hotline/site-a/operator/op-1",
                           catalog=catalog)
    for adopted_by in ("site-c", "site-a", "site-a"):
        site_a.publish(SiteAdoptionRequested(site="site-b", adopted_by=adopted_by,
                                             fencing_token=7,
                                             scope=("callbacks", "sla-intervals")))
    site_a.flush(10)

    reader = EventReader(kafka_site_a.bootstrap, catalog.topic_for_type(SlaInterval.TYPE).name)
    try:
        def finals(events: list[Event]) -> list[Event] | None:
            found = [e for e in events if isinstance(e.data, SlaInterval) and e.data.final]
            return found or None

        final = reader.poll_until(finals, 90, describe=lambda: adopter.read_text()[-2000:])
        data: Any = final[0].data
        assert (data.site, data.adopted_from, data.tenant, data.queue) == (
            "site-a", "site-b", "acme", "billing")
        assert (data.offered, data.answered, data.abandoned) == (3, 2, 1)
        assert data.interval_seconds == INTERVAL_S
        assert data.interval_start.timestamp() <= now.timestamp() - 1 < (
            data.interval_start.timestamp() + INTERVAL_S)
        # One final per interval state: the repeated command added nothing.
        assert len({e.id for e in final}) == 1
        key, _value, _headers = encode(final[0], catalog=catalog)
        assert key.endswith(b"/site-b")
    finally:
        reader.close()
    assert "is not a valid contract event" in adopter.read_text()
