"""The agent's view of the car's signals: unknown when stale or not available, and an odometer
that never goes backwards."""

from __future__ import annotations

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
