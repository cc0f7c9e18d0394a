"""The operator's entry point: `kopf run -m hotline_operators.operator`.

Settings are tuned for a failover budget of seconds (kopf's defaults retry after
60 s and let a stalled watch sit for minutes).
"""

from __future__ import annotations

import os
from typing import Any

import kopf
from kubernetes import client, config

from hotline_operators.failover import handlers as _failover_handlers  # noqa: F401
from hotline_operators.site import handlers as _site_handlers  # noqa: F401  (registers)


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # The kubernetes client reads KUBECONFIG at import time and kopf's own
    # login_via_client re-reads that stale default; load the file named now.
    path = os.environ.get("HOTLINE_KUBECONFIG") or os.environ.get("KUBECONFIG")
    if not path:
        return kopf.login_via_client(**kwargs)  # in-cluster service account
    loaded = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=path, client_configuration=loaded)
    # The handlers' kubernetes clients use the same credentials.
    client.Configuration.set_default(loaded)
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
