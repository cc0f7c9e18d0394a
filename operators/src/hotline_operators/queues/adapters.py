"""Reads a namespace's ContactCenterQueue objects and writes the tenants ConfigMap and
the queues' status (the API server is the only state: a restarted operator re-renders)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from hotline_operators import crds
from hotline_operators.queues.logic import TENANTS_CONFIG_MAP, config_map


class QueueStore:
    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        self.api_client = api_client or client.ApiClient()
        self.objects = client.CustomObjectsApi(self.api_client)
        self.core = client.CoreV1Api(self.api_client)

    def queues(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's queues, without those being deleted."""
        listed: Any = self.objects.list_namespaced_custom_object(
            crds.GROUP, crds.VERSION, namespace, crds.QUEUES)
        return [dict(item) for item in listed.get("items", [])
                if not item["metadata"].get("deletionTimestamp")]

    def tenants_data(self, namespace: str) -> dict[str, str] | None:
        """The tenants ConfigMap's data now; None when it does not exist."""
        try:
            cm = self.core.read_namespaced_config_map(TENANTS_CONFIG_MAP, namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(cm.data or {})

    def write_tenants(self, namespace: str, data: dict[str, str]) -> None:
        # A full replace, not server-side apply: apply would keep keys another field
        # manager wrote (a hand edit, a tenant file from before the operator), and the
        # ConfigMap must hold exactly the rendered tenants.
        body: Any = config_map(namespace, data)  # the client takes plain manifests too
        try:
            self.core.replace_namespaced_config_map(TENANTS_CONFIG_MAP, namespace, body)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            self.core.create_namespaced_config_map(namespace, body)

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        try:
            self.objects.patch_namespaced_custom_object_status(
                crds.GROUP, crds.VERSION, namespace, crds.QUEUES, name, {"status": status})
        except client.ApiException as exc:
            if exc.status != 404:  # deleted meanwhile: nothing to report on
                raise
