"""Fixtures shared by the operator tests that start operator processes themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.operator_process import OperatorProcess


@pytest.fixture()
def processes() -> Iterator[list[OperatorProcess]]:
    """Operator processes a test starts; each is stopped when the test ends."""
    started: list[OperatorProcess] = []
    yield started
    for process in started:
        process.stop()
