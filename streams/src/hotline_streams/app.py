"""The Faust app, its topics and its tables; nothing else.

Each capability's steps, timers and pages live in that capability's ``wiring.py``
(``intake/``, ``screen_pop/``, ``routing/``, ``service_levels/``, ``health/``…), all
imported by ``hotline_streams.wiring`` so ``python -m hotline_streams worker`` runs
everything. One Faust agent per input topic (faust's per-message cost is paid once):

    cc.call.events ─┐
    cc.agent.events ─┼─ intake: decode, dead-letter bad records, screen pop (call events),
    cc.callback.events┘  re-key by tenant ─▶ <app id>-tenant-events (partitions of cc.agent.events)
        tenant_stream: routing (RoutingBook per tenant) ─▶ cc.routing.decisions
                       then service levels (call ledger + SlaBook) ─▶ cc.metrics.sla

All state is in changelog-backed tables; an input is acked only once its outputs and
the state covering it are durable (``durable.py``).

Settings come from the environment (``settings.py``).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Awaitable
from typing import Any

import faust

from hotline_events.catalog import Catalog, default_catalog
from hotline_events.envelope import Event, encode
from hotline_events.models import EventModel
from hotline_events.models.agents import TYPES as AGENT_TYPES
from hotline_events.models.callbacks import CallbackRequested
from hotline_events.models.calls import CallQueued
from hotline_streams.config.loader import load_dir
from hotline_streams.config.models import TenantConfig
from hotline_streams.kafka_consumer import InLoopTransport, Transport
from hotline_streams.outbox import Outbox
from hotline_streams.settings import StreamSettings
from hotline_streams.ticks.models import TICK_HEADER

SOURCE_COMPONENT = "streams"

settings = StreamSettings.from_env()
catalog: Catalog = default_catalog().prefixed(settings.topic_prefix) \
    if settings.topic_prefix else default_catalog()
tenants: dict[str, TenantConfig] = (load_dir(settings.tenants_dir)
                                    if settings.tenants_dir is not None else {})


def topic_of(model: type[EventModel] | Any) -> str:
    return catalog.topic_for_type(model.TYPE).name


CALL_TOPIC = topic_of(CallQueued)
AGENT_TOPIC = topic_of(AGENT_TYPES[0])
CALLBACK_TOPIC = topic_of(CallbackRequested)
PARTITIONS = catalog.topic(AGENT_TOPIC).partitions  # routing domains are keyed like agent events

settings.data_dir.mkdir(parents=True, exist_ok=True)
app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.bootstrap}",
    key_serializer="raw",
    value_serializer="raw",
    store="memory://",  # state lives in the changelog topics; recovered on start
    datadir=str(settings.data_dir),
    topic_partitions=PARTITIONS,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=settings.session_timeout_s / 4,
    broker_commit_interval=1.0,
    processing_guarantee=settings.processing_guarantee,
    table_standby_replicas=0,
    # Don't wait for un-acked events when stopping or rebalancing: the agents ack only
    # at their checkpoints (``durable.py``), so the stream is never empty and a SIGTERM
    # waited ~20 s for nothing; un-acked events are replayed by design.
    stream_wait_empty=False,
    web_enabled=True,
    web_host=settings.web_host,
    web_port=settings.web_port,
    canonical_url=settings.canonical_url,  # the assignor tells the others this address
    web_in_thread=False,
    # Faust's /table pages serve the tables' contents (screen pops, routing state) and
    # /router the workers' addresses; table_route forwards without them.
    web_tables_enabled=False,
    web_router_enabled=False,
)
# Commits that never pass an event not durably processed; see kafka_consumer.py.
app.transport = (InLoopTransport if settings.consumer_in_loop else Transport)(
    app.conf.broker_consumer, app)



def _quiet_client_logs(sender: Any, **kwargs: Any) -> None:
    """aiokafka and faust format a debug record per message otherwise (about 6 % of the
    worker's CPU under load in benchmarks/streams_routing.py)."""
    for name in ("aiokafka", "faust.topics", "faust.transport"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger().level))


app.on_worker_init.connect(_quiet_client_logs)  # type: ignore[arg-type]  # faust types it loosely


def _freeze_startup_objects(sender: Any, **kwargs: Any) -> None:
    """A full garbage collection walks every tracked object. The modules, classes and
    services loaded at start never die, and walking them paused the worker for about
    50 ms per full collection under load (benchmarks/streams_routing.py): the tail of
    the routing latency. Frozen, collections skip them."""
    gc.freeze()


app.on_worker_init.connect(_freeze_startup_objects)  # type: ignore[arg-type]  # faust types it loosely

inputs = app.topic(CALL_TOPIC, AGENT_TOPIC, CALLBACK_TOPIC, key_type=bytes, value_type=bytes)
tenant_events = app.topic(f"{settings.app_id}-tenant-events", key_type=bytes,
                          value_type=bytes, partitions=PARTITIONS, internal=True)

routing_books = app.Table("routing-books", partitions=PARTITIONS, key_type=bytes,
                          value_type=bytes)
# One table for a tenant's SLA book (key ``B/<tenant>``) and its calls' ledger entries
# (``L/<call id>``): written from the same event, both land in one changelog partition.
sla_state = app.Table("sla-state", partitions=PARTITIONS, key_type=bytes, value_type=bytes)
CALL_PARTITIONS = catalog.topic(CALL_TOPIC).partitions
# Screen pop: ``C/<call id>`` a call's context, ``H/<caller token>`` the caller's last
# contacts (partitioned like the call events it is folded from).
call_context = app.Table("call-context", partitions=CALL_PARTITIONS, key_type=bytes,
                         value_type=bytes)

source = f"//hotline/{settings.site}/{SOURCE_COMPONENT}/{settings.app_id}"


def internal_topics() -> dict[str, tuple[int, dict[str, str]]]:
    """The worker's own topics (name → partitions, configs), as Faust would declare them."""
    compact = {"cleanup.policy": "compact"}
    return {tenant_events.get_topic_name(): (PARTITIONS, {}),
            routing_books.changelog_topic.get_topic_name(): (PARTITIONS, compact),
            sla_state.changelog_topic.get_topic_name(): (PARTITIONS, compact),
            call_context.changelog_topic.get_topic_name(): (CALL_PARTITIONS, compact),
            f"{settings.app_id}-__assignor-__leader": (1, {})}


def prepare_topics(timeout_s: float = 60.0) -> None:
    """Create the internal topics and wait until the broker lists them, before the
    worker joins its group. Why: Faust creates them while joining, and on a loaded
    broker the first assignment can be computed before they are in the metadata; the
    worker then ran without its tenant topic ("Ignoring missing topic") and processed
    nothing while reporting ready."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": settings.bootstrap})
    wanted = internal_topics()
    futures = admin.create_topics([NewTopic(name, partitions, 1, config=config)
                                   for name, (partitions, config) in wanted.items()])
    for name, future in futures.items():
        try:
            future.result(timeout_s)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"streams worker {settings.app_id}: cannot create topic "
                                   f"{name} on {settings.bootstrap}: {exc}; not starting"
                                   ) from exc
    deadline = time.monotonic() + timeout_s
    while True:
        listed = admin.list_topics(timeout=10).topics
        missing = [n for n, (parts, _) in wanted.items()
                   if n not in listed or len(listed[n].partitions) < parts]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"streams worker {settings.app_id}: topics {missing} not in "
                               f"the metadata of {settings.bootstrap} after {timeout_s:.0f} s")
        time.sleep(0.2)  # metadata propagation has no notification to wait on


def headers_of(raw: Any) -> list[tuple[str, bytes]]:
    pairs = raw.items() if isinstance(raw, dict) else (raw or ())
    return [(str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in pairs]


def config_of(tenant: str) -> TenantConfig:
    return tenants.get(tenant) or TenantConfig(tenant=tenant)


outbox = Outbox(settings.bootstrap, f"{settings.app_id}-outbox")


async def _close_outbox(sender: Any, **kwargs: Any) -> None:
    outbox.close()


app.on_before_shutdown.connect(_close_outbox)  # type: ignore[arg-type]  # faust types it loosely


async def send(*events: Event) -> list[Awaitable[Any]]:
    """Hand each to the outbox for the catalog's topic of its type; returns the
    acknowledgements to wait for (a stream agent leaves them to ``DurableAcks``)."""
    pending: list[Awaitable[Any]] = []
    for event in events:
        key, value, headers = encode(event, catalog=catalog)
        pending.append(outbox.send(topic_of(type(event.data)), key, value, headers_of(headers)))
    return pending


async def publish(*events: Event) -> None:
    """Send each and wait for Kafka's acknowledgement of all (outside the stream agents,
    e.g. an agent desktop's request is answered only once its event is durable)."""
    for sent in await send(*events):
        await sent


def is_tick(headers: list[tuple[str, bytes]]) -> bool:
    return any(k == TICK_HEADER for k, _ in headers)
