"""The Lease on the API server: read, create, and replace with optimistic concurrency."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from hotline_operators.leadership.logic import lease_spec
from hotline_operators.leadership.models import ElectionSettings, LeaseRecord


def micro_time() -> str:
    """Kubernetes MicroTime (RFC 3339 with exactly six fractional digits)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseStore:
    def __init__(self, settings: ElectionSettings, api: client.ApiClient | None = None) -> None:
        self.settings = settings
        # Plain dict bodies: the typed V1Lease would serialise MicroTime imprecisely.
        self.api: Any = client.CoordinationV1Api(api)
        # A renewal stuck on a slow API server must not outlive the lease itself.
        self.timeout = max(1.0, settings.duration_s / 3)

    def read(self) -> LeaseRecord | None:
        try:
            lease: Any = self.api.read_namespaced_lease(self.settings.lease_name,
                                                        self.settings.namespace,
                                                        _request_timeout=self.timeout)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        spec = lease.spec
        return LeaseRecord(holder=spec.holder_identity or None,
                           duration_s=float(spec.lease_duration_seconds or 0),
                           transitions=int(spec.lease_transitions or 0),
                           version=str(lease.metadata.resource_version))

    def claim(self, record: LeaseRecord | None) -> LeaseRecord | None:
        """Write ourselves as holder; None when another replica wrote first (409)."""
        s = self.settings
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": s.lease_name, "namespace": s.namespace},
            "spec": lease_spec(record, s.identity, s.duration_s, micro_time()),
        }
        try:
            if record is None:
                written: Any = self.api.create_namespaced_lease(s.namespace, body,
                                                               _request_timeout=self.timeout)
            else:
                body["metadata"]["resourceVersion"] = record.version
                written = self.api.replace_namespaced_lease(s.lease_name, s.namespace, body,
                                                            _request_timeout=self.timeout)
        except client.ApiException as exc:
            if exc.status == 409:
                return None
            raise
        return LeaseRecord(holder=s.identity, duration_s=s.duration_s,
                           transitions=int(written.spec.lease_transitions or 0),
                           version=str(written.metadata.resource_version))

    def release(self, record: LeaseRecord) -> None:
        """Hand the Lease over at once on a clean shutdown (the standby need not wait)."""
        s = self.settings
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": s.lease_name, "namespace": s.namespace,
                             "resourceVersion": record.version},
                "spec": {"holderIdentity": None, "leaseDurationSeconds": 1,
                         "leaseTransitions": record.transitions}}
        try:
            self.api.replace_namespaced_lease(s.lease_name, s.namespace, body,
                                              _request_timeout=self.timeout)
        except client.ApiException as exc:
            if exc.status != 409:  # 409: someone else holds it already; nothing to hand over
                raise
