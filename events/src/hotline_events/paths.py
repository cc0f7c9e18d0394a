"""Where the contract's data files live (in the source tree: events/)."""

from __future__ import annotations

from pathlib import Path

# events/src/hotline_events/paths.py → events/
EVENTS_DIR = Path(__file__).resolve().parents[2]
CATALOG_FILE = EVENTS_DIR / "catalog.yaml"
SCHEMAS_DIR = EVENTS_DIR / "schemas"
RELEASED_DIR = EVENTS_DIR / "released"
DOCS_DIR = EVENTS_DIR / "docs"
TOPICS_DOC = DOCS_DIR / "topics.md"
