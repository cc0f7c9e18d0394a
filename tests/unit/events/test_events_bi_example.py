"""The BI example (events/examples/bi_duckdb.py) runs on example events and dedupes."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from hotline_events import paths


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bi_duckdb", paths.EVENTS_DIR / "examples" / "bi_duckdb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bi_example_loads_deduplicated_events_into_duckdb() -> None:
    example = load_example()
    records = example.demo_records()
    con = example.load(example.rows_from_records(records))
    assert con.sql("SELECT count(*) FROM events").fetchall() == [(len(records) // 2,)]
    kpis = con.sql(example.KPIS).fetchall()
    assert kpis == [("billing", 1, 1, 1, 0, 1, 17.3)]
