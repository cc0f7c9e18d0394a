"""Writes a site's manifests to the API server (server-side apply) and reads back what
its readiness depends on."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.dynamic import DynamicClient

from hotline_operators import crds
from hotline_operators.site.meta import MANAGED_BY

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


class SiteStatusStore:
    """A site, its Deployments' status, and optimistic writes of its conditions."""

    def __init__(self, api_client: client.ApiClient | None = None) -> None:
        self.api_client = api_client or client.ApiClient()
        self.objects = client.CustomObjectsApi(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)

    def site(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            site: Any = self.objects.get_namespaced_custom_object(
                crds.GROUP, crds.VERSION, namespace, crds.SITES, name)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(site)

    def deployments(self, namespace: str, instance: str) -> dict[str, dict[str, Any]]:
        """The operator's Deployments of one site by name, as the API server's JSON."""
        listed = self.apps.list_namespaced_deployment(
            namespace, label_selector=f"app.kubernetes.io/instance={instance},"
                                      f"app.kubernetes.io/managed-by={MANAGED_BY}")
        found: dict[str, dict[str, Any]] = {}
        for item in listed.items:
            body: dict[str, Any] = self.api_client.sanitize_for_serialization(  # type: ignore[no-untyped-call]
                item)
            found[str(body["metadata"]["name"])] = body
        return found

    def write_conditions(self, namespace: str, name: str, resource_version: str,
                         conditions: list[dict[str, str]],
                         **fields: Any) -> bool:
        """Write the conditions (and other status ``fields``) only if the site is still at
        ``resource_version``; False when it changed since it was read (409): read it
        again."""
        body = {"metadata": {"resourceVersion": resource_version},
                "status": {"conditions": conditions, **fields}}
        try:
            self.objects.patch_namespaced_custom_object_status(
                crds.GROUP, crds.VERSION, namespace, crds.SITES, name, body)
        except client.ApiException as exc:
            if exc.status == 409:
                return False
            if exc.status == 404:
                return True  # deleted meanwhile: nothing to report on
            raise
        return True
