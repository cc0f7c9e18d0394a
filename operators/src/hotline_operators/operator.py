"""The operator's entry point: `kopf run -m hotline_operators.operator`.

Settings are tuned for a failover budget of seconds (kopf's defaults retry after
60 s and let a stalled watch sit for minutes). With HOTLINE_OPERATOR_LEASE set, the
replicas elect one leader through a short Lease (leadership.wiring) before any
handler runs.
"""

from __future__ import annotations

import os
from typing import Any

import kopf
from kubernetes import client, config

from hotline_operators.failover import handlers as _failover_handlers  # noqa: F401
from hotline_operators.leadership.adapters import LeaseStore
from hotline_operators.leadership.wiring import (
    STANDBY_HEALTH_PORT_ENV,
    Leader,
    settings_from_env,
    standby_health,
)
from hotline_operators.queues import handlers as _queue_handlers  # noqa: F401  (registers)
from hotline_operators.site import handlers as _site_handlers  # noqa: F401  (registers)


def _kubeconfig_path() -> str | None:
    return os.environ.get("HOTLINE_KUBECONFIG") or os.environ.get("KUBECONFIG") or None


def _client_configuration(path: str) -> client.Configuration:
    # The kubernetes client reads KUBECONFIG at import time and kopf's own
    # login_via_client re-reads that stale default; load the file named now.
    loaded = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=path, client_configuration=loaded)
    # The handlers' kubernetes clients use the same credentials.
    client.Configuration.set_default(loaded)
    return loaded


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    path = _kubeconfig_path()
    if not path:
        return kopf.login_via_client(**kwargs)  # in-cluster service account
    loaded = _client_configuration(path)
    # The client keeps "Bearer <token>" under "BearerToken" (older: "authorization").
    header = loaded.api_key.get("BearerToken") or loaded.api_key.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    return kopf.ConnectionInfo(
        server=loaded.host,
        ca_path=loaded.ssl_ca_cert,
        insecure=not loaded.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=loaded.cert_file,
        private_key_path=loaded.key_file,
    )


@kopf.on.startup()
def tune(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.watching.server_timeout = 60  # re-open watches every minute at most
    settings.watching.client_timeout = 90
    settings.watching.connect_timeout = 5
    settings.networking.request_timeout = 15
    settings.queueing.idle_timeout = 0.5
    settings.posting.level = 20  # INFO and up become Kubernetes events
    settings.persistence.finalizer = "hotline.dev/operator"


_LEADER: list[Leader] = []


@kopf.on.startup(timeout=None)
async def lead(logger: kopf.Logger, **_: Any) -> None:
    # Startup handlers finish before kopf starts any watch, timer or daemon: a
    # standby waits here, doing nothing, until it holds the Lease.
    election = settings_from_env(os.environ)
    if election is None:
        return
    path = _kubeconfig_path()
    if path:
        _client_configuration(path)
    else:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    leader = Leader(election, LeaseStore(election))
    logger.info("waiting for lease %s/%s as %s", election.namespace, election.lease_name,
                election.identity)
    port = os.environ.get(STANDBY_HEALTH_PORT_ENV)
    async with standby_health(int(port) if port else None):
        await leader.acquire()
    leader.start_renewing()
    _LEADER.append(leader)


@kopf.on.cleanup()
def step_down(**_: Any) -> None:
    while _LEADER:
        _LEADER.pop().release()
