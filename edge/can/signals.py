"""The vehicle's logical signals as the agent knows them: fresh, plausible, or unknown.

Readings are kept per source (an input read from several messages has one per message). A
source not refreshed within STALE_CYCLES of its cycle time is unknown (None), never its last
value, and so is every input it is part of. A "not available" raw value is never stored: the
source becomes unknown.

The odometer is checked against the last trusted reading: one lower, or further on than the
car can have driven since (MAX_PLAUSIBLE_KMH, plus ODOMETER_SLACK_KM), is dropped and counted.
A single outlier (a mis-scaled value) is forgotten at the next good reading; only when
REBASE_READINGS readings in a row agree with each other and not with the trusted one (the
odometer was replaced, or the box moved to another car) do they become the trusted reading.
The trusted reading is handed to `on_trusted_odometer` to be kept durably.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

STALE_CYCLES = 3.0
MAX_PLAUSIBLE_KMH = 300.0
ODOMETER_SLACK_KM = 2.0
REBASE_READINGS = 5
REBASE_AGREEMENT_KM = 1.0
ODOMETER = "odometer_km"


@dataclass
class _Reading:
    value: Any
    at: float


@dataclass
class SignalCounters:
    not_available: int = 0
    implausible: int = 0
    stale: int = 0
    odometer_rebased: int = 0


class SignalTable:
    def __init__(
        self,
        cycle_s: Mapping[str, float],
        not_available: object,
        *,
        combine: Callable[[Callable[[str], Any | None]], dict[str, Any]] | None = None,
        trusted_odometer: float | None = None,
        on_trusted_odometer: Callable[[float], None] | None = None,
    ) -> None:
        self._max_age = {name: cycle * STALE_CYCLES for name, cycle in cycle_s.items()}
        self._not_available = not_available
        self._readings: dict[str, _Reading] = {}
        self._combine = combine
        self._trusted: float | None = trusted_odometer
        self._trusted_at: float | None = None
        self._outliers: list[float] = []
        self._on_trusted = on_trusted_odometer or (lambda km: None)
        self.counters = SignalCounters()

    @property
    def trusted_odometer(self) -> float | None:
        return self._trusted

    def update(self, values: Mapping[str, Any], now: float) -> set[str]:
        """Take the values of one decoded frame; return the keys whose known value changed."""
        changed: set[str] = set()
        for name, value in values.items():
            if value is self._not_available:
                self.counters.not_available += 1
                if self._readings.pop(name, None) is not None:
                    changed.add(name)
                continue
            if name == ODOMETER and not self._odometer_plausible(value, now):
                self.counters.implausible += 1
                continue
            previous = self._readings.get(name)
            if previous is None or previous.value != value:
                changed.add(name)
            self._readings[name] = _Reading(value, now)
        return changed

    def expire(self, now: float) -> set[str]:
        """Forget every reading older than its staleness limit; return the keys forgotten."""
        stale = {
            name
            for name, reading in self._readings.items()
            if now - reading.at > self._max_age.get(name, float("inf"))
        }
        for name in stale:
            del self._readings[name]
        self.counters.stale += len(stale)
        return stale

    def next_expiry(self) -> float | None:
        """When the first reading held goes stale (on the clock `update` was given); None when
        none can."""
        ages = self._max_age
        due = [r.at + ages[n] for n, r in self._readings.items() if n in ages]
        return min(due, default=None)

    def get(self, name: str) -> Any | None:
        reading = self._readings.get(name)
        return None if reading is None else reading.value

    def age(self, name: str, now: float) -> float | None:
        """Seconds since the reading held under `name` (a source key) was taken, on the clock
        `update` was given; None when none is held (never seen, stale, not available)."""
        reading = self._readings.get(name)
        return None if reading is None else max(0.0, now - reading.at)

    def snapshot(self, names: list[str]) -> dict[str, Any | None]:
        """Each logical input, combined from its sources (None: unknown)."""
        combined = self._combine(self.get) if self._combine is not None else {}
        get = self.get
        return {name: combined[name] if name in combined else get(name) for name in names}

    def _odometer_plausible(self, value: float, now: float) -> bool:
        trusted, at = self._trusted, self._trusted_at
        if trusted is None:
            return self._trust(value, now)
        reach = ODOMETER_SLACK_KM
        if at is not None:
            reach += MAX_PLAUSIBLE_KMH * max(0.0, now - at) / 3600
        if trusted <= value <= trusted + reach:
            self._outliers.clear()
            return self._trust(value, now)
        if self._outliers and abs(value - self._outliers[-1]) > REBASE_AGREEMENT_KM:
            self._outliers.clear()
        self._outliers.append(value)
        if len(self._outliers) >= REBASE_READINGS:
            self._outliers.clear()
            self.counters.odometer_rebased += 1
            return self._trust(value, now)
        return False

    def _trust(self, value: float, now: float) -> bool:
        if value != self._trusted:
            self._trusted = value
            self._on_trusted(value)
        self._trusted_at = now
        return True
