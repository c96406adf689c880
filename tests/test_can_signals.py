"""The agent's view of the car's signals: unknown when stale or not available, and an odometer
that never goes backwards."""

from __future__ import annotations

import pytest

from edge.can.signals import STALE_CYCLES, SignalTable
from firmware_protocol.can import NOT_AVAILABLE

CYCLES = {"fuel_pct": 1.0, "speed_kmh": 0.05, "odometer_km": 1.0}


def test_a_signal_is_unknown_after_three_cycles_never_its_last_value() -> None:
    table = SignalTable(CYCLES, NOT_AVAILABLE)
    assert table.update({"fuel_pct": 62.0, "speed_kmh": 30.0}, now=100.0) == {
        "fuel_pct",
        "speed_kmh",
    }
    assert table.expire(100.0 + 0.05 * STALE_CYCLES - 0.001) == set()
    assert table.expire(100.0 + 0.05 * STALE_CYCLES + 0.001) == {"speed_kmh"}
    assert table.get("speed_kmh") is None
    assert table.get("fuel_pct") == 62.0
    assert table.expire(100.0 + 1.0 * STALE_CYCLES + 0.001) == {"fuel_pct"}
    assert table.snapshot(["fuel_pct", "speed_kmh"]) == {"fuel_pct": None, "speed_kmh": None}
    assert table.counters.stale == 2


def test_a_signals_age_counts_from_its_last_reading_until_it_is_dropped() -> None:
    table = SignalTable(CYCLES, NOT_AVAILABLE)
    assert table.age("fuel_pct", 100.0) is None  # never seen
    table.update({"fuel_pct": 62.0}, now=100.0)
    assert table.age("fuel_pct", 100.4) == pytest.approx(0.4)
    table.update({"fuel_pct": 62.0}, now=101.0)  # the same value: refreshed all the same
    assert table.age("fuel_pct", 101.25) == pytest.approx(0.25)
    table.expire(101.0 + 1.0 * STALE_CYCLES + 0.001)
    assert table.age("fuel_pct", 105.0) is None
    table.update({"fuel_pct": 62.0}, now=106.0)
    table.update({"fuel_pct": NOT_AVAILABLE}, now=106.5)
    assert table.age("fuel_pct", 107.0) is None


def test_not_available_is_never_stored() -> None:
    table = SignalTable(CYCLES, NOT_AVAILABLE)
    table.update({"fuel_pct": 62.0}, now=1.0)
    assert table.update({"fuel_pct": NOT_AVAILABLE}, now=1.1) == {"fuel_pct"}
    assert table.get("fuel_pct") is None
    assert table.update({"fuel_pct": NOT_AVAILABLE}, now=1.2) == set()
    assert table.counters.not_available == 2


def test_the_odometer_never_goes_backwards() -> None:
    table = SignalTable(CYCLES, NOT_AVAILABLE)
    table.update({"odometer_km": 12345.6}, now=1.0)
    assert table.update({"odometer_km": 12000.0}, now=2.0) == set()
    assert table.get("odometer_km") == 12345.6
    assert table.counters.implausible == 1
    # Not even after it went stale: the highest reading stands.
    table.expire(10.0)
    assert table.update({"odometer_km": 12345.5}, now=11.0) == set()
    assert table.update({"odometer_km": 12345.7}, now=12.0) == {"odometer_km"}
    assert table.get("odometer_km") == 12345.7


def test_an_unchanged_value_refreshes_without_reporting_a_change() -> None:
    table = SignalTable(CYCLES, NOT_AVAILABLE)
    table.update({"fuel_pct": 62.0}, now=1.0)
    assert table.update({"fuel_pct": 62.0}, now=3.5) == set()
    assert table.expire(5.0) == set()  # refreshed at 3.5: still fresh


def test_next_expiry_is_the_first_reading_to_go_stale() -> None:
    table = SignalTable({"speed_kmh": 0.05, "fuel_pct": 1.0}, object())
    assert table.next_expiry() is None
    table.update({"fuel_pct": 50.0}, 10.0)
    assert table.next_expiry() == pytest.approx(10.0 + STALE_CYCLES)
    table.update({"speed_kmh": 3.0}, 10.5)
    assert table.next_expiry() == pytest.approx(10.5 + 0.05 * STALE_CYCLES)
    table.expire(10.5 + 0.05 * STALE_CYCLES + 0.001)
    assert table.next_expiry() == pytest.approx(10.0 + STALE_CYCLES)
