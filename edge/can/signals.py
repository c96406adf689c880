"""The vehicle's logical signals as the agent knows them: fresh, plausible, or unknown.

A signal not refreshed within STALE_CYCLES of its cycle time is unknown (None), never its last
value. A "not available" raw value is never stored: the signal becomes unknown. The odometer
never goes backwards: a lower reading is dropped and counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STALE_CYCLES = 3.0


@dataclass
class _Reading:
    value: Any
    at: float


@dataclass
class SignalCounters:
    not_available: int = 0
    implausible: int = 0
    stale: int = 0


class SignalTable:
    def __init__(self, cycle_s: Mapping[str, float], not_available: object) -> None:
        self._max_age = {name: cycle * STALE_CYCLES for name, cycle in cycle_s.items()}
        self._not_available = not_available
        self._readings: dict[str, _Reading] = {}
        self._odometer_high: float | None = None
        self.counters = SignalCounters()

    def update(self, values: Mapping[str, Any], now: float) -> set[str]:
        """Take the values of one decoded frame; return the names whose known value changed."""
        changed: set[str] = set()
        for name, value in values.items():
            if value is self._not_available:
                self.counters.not_available += 1
                if self._readings.pop(name, None) is not None:
                    changed.add(name)
                continue
            if name == "odometer_km" and not self._odometer_plausible(value):
                self.counters.implausible += 1
                continue
            previous = self._readings.get(name)
            if previous is None or previous.value != value:
                changed.add(name)
            self._readings[name] = _Reading(value, now)
        return changed

    def expire(self, now: float) -> set[str]:
        """Forget every reading older than its staleness limit; return the names forgotten."""
        stale = {
            name
            for name, reading in self._readings.items()
            if now - reading.at > self._max_age.get(name, float("inf"))
        }
        for name in stale:
            del self._readings[name]
        self.counters.stale += len(stale)
        return stale

    def get(self, name: str) -> Any | None:
        reading = self._readings.get(name)
        return None if reading is None else reading.value

    def snapshot(self, names: list[str]) -> dict[str, Any | None]:
        return {name: self.get(name) for name in names}

    def _odometer_plausible(self, value: float) -> bool:
        if self._odometer_high is not None and value < self._odometer_high:
            return False
        self._odometer_high = value
        return True
