"""Periodic sleeps end on a common grain, so timers due together wake the loop once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.ticks import GRAIN_S, aligned_delay


@given(
    now=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    seconds=st.floats(min_value=0, max_value=3600, allow_nan=False),
)
def test_the_delay_ends_on_the_grain_near_the_asked_time(now: float, seconds: float) -> None:
    delay = aligned_delay(now, seconds)
    assert delay >= 0
    assert abs(delay - seconds) <= GRAIN_S / 2 + 1e-6
    ends = (now + delay) / GRAIN_S
    assert ends == pytest.approx(round(ends), abs=1e-6) or delay == 0


def test_a_loop_woken_on_the_grain_keeps_its_period() -> None:
    now = 40 * GRAIN_S
    for _ in range(100):
        delay = aligned_delay(now, 1.0)
        assert delay == pytest.approx(1.0)
        now += delay


def test_timers_of_different_periods_meet() -> None:
    assert 7.3 + aligned_delay(7.3, 1.0) == pytest.approx(7.3 + aligned_delay(7.3, 1.05))
