"""Erlang C against DESIGN.md's worked example, and the surge steps."""

from __future__ import annotations

import pytest

from hotline_streams.staffing.erlang import (
    agents_needed,
    erlang_b,
    forecast,
    offered_load,
    probability_of_wait,
    surge_level,
)


def test_load_of_100_calls_per_half_hour_at_180_s_is_10_erlangs() -> None:
    assert offered_load(100, 1800, 180) == pytest.approx(10.0)


@pytest.mark.parametrize(("agents", "pw", "asa", "sl"), [
    (14, 0.1741, 7.84, 0.8884),
    (13, None, None, 0.7956),
    (12, None, None, 0.6402),
])
def test_worked_example(agents: int, pw: float | None, asa: float | None, sl: float) -> None:
    result = forecast(agents, 10.0, aht_s=180, threshold_s=20)
    assert result.service_level == pytest.approx(sl, abs=5e-5)
    if pw is not None:
        assert result.probability_of_wait == pytest.approx(pw, abs=5e-5)
    if asa is not None:
        assert result.asa_s == pytest.approx(asa, abs=5e-3)


def test_agents_needed_for_80_in_20_is_14() -> None:
    assert agents_needed(10.0, 180, 20, 0.80).agents == 14
    assert agents_needed(10.0, 180, 20, 0.60).agents == 12


def test_contact_center_sizes_do_not_overflow() -> None:
    # 1,000 erlangs: the factorial form overflows floats long before this.
    pw = probability_of_wait(1050, 1000.0)
    assert 0.0 < pw < 1.0
    assert 0.0 < erlang_b(1050, 1000.0) < pw
    result = agents_needed(1000.0, 300, 20, 0.95)
    assert 1000 < result.agents < 1100


def test_too_few_agents_means_everyone_waits() -> None:
    assert probability_of_wait(10, 10.0) == 1.0
    assert forecast(9, 10.0, 180, 20).service_level == 0.0


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="target"):
        agents_needed(10.0, 180, 20, 1.5)
    with pytest.raises(ValueError, match="period"):
        offered_load(10, 0, 180)


@pytest.mark.parametrize(("ready", "level"), [
    (25, 0), (20, 0), (19, 1), (18, 1), (17, 2), (15, 2), (14, 3), (10, 3), (9, 4), (0, 4),
])
def test_surge_level_steps_with_the_shortfall(ready: int, level: int) -> None:
    assert surge_level(required_agents=20, ready_agents=ready) == level
