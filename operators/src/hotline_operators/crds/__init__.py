"""The operator's CustomResourceDefinitions.

They live once, in the Helm chart's crds/ folder (what SREs install); this module
hands them to code and tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

GROUP = "hotline.dev"
VERSION = "v1alpha1"
CRD_DIR = Path(__file__).resolve().parents[4] / "charts" / "hotline" / "crds"

SITES = "contactcentersites"
QUEUES = "contactcenterqueues"


def load(plural: str) -> dict[str, Any]:
    """One CRD manifest by its plural name."""
    path = CRD_DIR / f"{plural}.yaml"
    manifest: dict[str, Any] = yaml.safe_load(path.read_text())
    return manifest


def all_crds() -> list[dict[str, Any]]:
    """Every CRD the chart installs (sites, queues, kopf's peering)."""
    return [yaml.safe_load(path.read_text()) for path in sorted(CRD_DIR.glob("*.yaml"))]
