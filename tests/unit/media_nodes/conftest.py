from __future__ import annotations

from pathlib import Path

import pytest

from hotline_media_nodes.ivr.loader import load_flow
from hotline_media_nodes.ivr.models import Flow

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture()
def acme() -> Flow:
    return load_flow(FLOWS / "acme.yaml")
