"""Names, labels and owner references shared by every object a site owns."""

from __future__ import annotations

from typing import Any

from hotline_operators import crds
from hotline_operators.site.models import SiteSpec

MANAGED_BY = "hotline-operator"
Manifest = dict[str, Any]


def labels(spec: SiteSpec, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": f"hotline-{component}",
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "hotline",
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "hotline.dev/site": spec.site,
    }


def selector(spec: SiteSpec, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": spec.name, "app.kubernetes.io/component": component}


def owner_reference(spec: SiteSpec) -> dict[str, Any]:
    return {"apiVersion": f"{crds.GROUP}/{crds.VERSION}", "kind": "ContactCenterSite",
            "name": spec.name, "uid": spec.uid, "controller": True,
            "blockOwnerDeletion": True}


def object_meta(spec: SiteSpec, name: str, component: str) -> dict[str, Any]:
    return {"name": name, "namespace": spec.namespace, "labels": labels(spec, component),
            "ownerReferences": [owner_reference(spec)]}
