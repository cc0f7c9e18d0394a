"""Writes a site's manifests to the API server (server-side apply)."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.dynamic import DynamicClient

FIELD_MANAGER = "hotline-operator"


class Applier:
    """Server-side apply: idempotent, and it repairs drift in the fields we own."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.dynamic = DynamicClient(api_client)  # type: ignore[no-untyped-call]

    def apply(self, manifest: dict[str, Any]) -> None:
        resource = self.dynamic.resources.get(api_version=manifest["apiVersion"],
                                              kind=manifest["kind"])
        meta = manifest["metadata"]
        self.dynamic.server_side_apply(  # type: ignore[no-untyped-call]
            resource, body=manifest, name=meta["name"],
            namespace=meta.get("namespace"), field_manager=FIELD_MANAGER, force_conflicts=True)
