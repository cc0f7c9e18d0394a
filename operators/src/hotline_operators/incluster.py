"""An API client for the chart's hook Jobs: the pod's service account in a cluster,
KUBECONFIG elsewhere (tests, a laptop)."""

from __future__ import annotations

import os

from kubernetes import client, config


def api_client() -> client.ApiClient:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=os.environ.get("KUBECONFIG"), client_configuration=configuration)
    return client.ApiClient(configuration)
