"""Where the contract's data files live (in the source tree: events/).

An installed wheel (as in Hotline's images) carries the topic catalog inside the
package, beside this file; the schemas, docs and released snapshots are tooling for
the source tree only.
"""

from __future__ import annotations

from pathlib import Path

# events/src/hotline_events/paths.py → events/
EVENTS_DIR = Path(__file__).resolve().parents[2]
_PACKAGED_CATALOG = Path(__file__).resolve().parent / "catalog.yaml"
CATALOG_FILE = _PACKAGED_CATALOG if _PACKAGED_CATALOG.is_file() else EVENTS_DIR / "catalog.yaml"
SCHEMAS_DIR = EVENTS_DIR / "schemas"
RELEASED_DIR = EVENTS_DIR / "released"
DOCS_DIR = EVENTS_DIR / "docs"
TOPICS_DOC = DOCS_DIR / "topics.md"
