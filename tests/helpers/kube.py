"""Kubernetes helpers shared by the integration tests."""

from __future__ import annotations

import uuid
from typing import Any

from kubernetes import client, watch
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException


def establish(api: ApiClient, crd: dict[str, Any], timeout: int = 60) -> None:
    """Create a CRD (or accept that it exists) and wait for its Established condition."""
    extensions = client.ApiextensionsV1Api(api)
    try:
        extensions.create_custom_resource_definition(crd)
    except ApiException as exc:
        if exc.status != 409:
            raise
    name = crd["metadata"]["name"]
    for event in watch.Watch().stream(extensions.list_custom_resource_definition,
                                      field_selector=f"metadata.name={name}",
                                      timeout_seconds=timeout):
        conditions = event["object"].status.conditions or []
        if any(c.type == "Established" and c.status == "True" for c in conditions):
            return
    raise AssertionError(f"CRD {name} never became Established within {timeout}s")


def new_namespace(api: ApiClient, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata={"name": name}))
    return name
