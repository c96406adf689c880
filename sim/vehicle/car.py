"""What the simulated car is: its lock, start enable, doors, ignition, engine and gauges.

Plain state and the values it shows; the rules the car keeps (the engine runs only with the
ignition on and starts only with start enabled) are applied by the control ops. A drive ends
with the odometer exactly where it should be. No bus, no clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from firmware_protocol.can import NOT_AVAILABLE, LogicalValue
from firmware_protocol.obd import ENGINE_SPEED, FUEL_LEVEL, ODOMETER, VEHICLE_SPEED

LockState = Literal["locked", "unlocked"]
Actuator = Literal["lock", "start_enable"]

IDLE_RPM = 780.0
RPM_PER_KMH = 22.0  # a middle gear: 100 km/h at about 3000 rpm
MAX_RPM = 5500.0
RPM_JITTER = 15.0

MIN_DRIVE_SPEED_KMH = 5.0
MAX_DRIVE_SPEED_KMH = 180.0
OBD_MAX_SPEED_KMH = 255.0  # PID 0x0D is one byte of km/h


@dataclass(frozen=True)
class Target:
    """Where a command moves an actuator."""

    actuator: Actuator
    position: LockState | bool


COMMAND_TARGETS: dict[str, Target] = {
    "lock": Target("lock", "locked"),
    "unlock": Target("lock", "unlocked"),
    "start_enable": Target("start_enable", True),
    "start_disable": Target("start_enable", False),
}


@dataclass
class Car:
    """The car's state; None for a gauge the car sends as "not available"."""

    fuel_pct: float | None
    odometer_km: float | None
    speed_kmh: float | None = 0.0
    lock: LockState = "locked"
    start_enabled: bool = False
    ignition: bool = False
    engine_running: bool = False
    doors_open: set[str] = field(default_factory=set)
    dtcs: list[str] = field(default_factory=list)

    def position(self, actuator: Actuator) -> LockState | bool:
        return self.lock if actuator == "lock" else self.start_enabled

    def move(self, target: Target) -> None:
        if target.actuator == "lock":
            assert isinstance(target.position, str)
            self.lock = target.position
        else:
            assert isinstance(target.position, bool)
            self.start_enabled = target.position

    def inputs(self) -> dict[str, LogicalValue]:
        """The profile's logical inputs, as the codec encodes them."""
        return {
            "fuel_pct": _or_not_available(self.fuel_pct),
            "odometer_km": _or_not_available(self.odometer_km),
            "speed_kmh": _or_not_available(self.speed_kmh),
            "ignition": self.ignition,
            "engine_running": self.engine_running,
            "doors_closed": not self.doors_open,
            "lock_state": self.lock,
            "start_enabled": self.start_enabled,
        }

    def rpm(self, rng: random.Random) -> float:
        """Engine speed: 0 when stopped, idle and a little unsteady when running."""
        if not self.engine_running:
            return 0.0
        nominal = IDLE_RPM + RPM_PER_KMH * (self.speed_kmh or 0.0)
        return round(min(MAX_RPM, nominal + rng.uniform(-RPM_JITTER, RPM_JITTER)), 2)

    def obd_values(self, rng: random.Random) -> dict[int, float | None]:
        """Service 0x01 values by PID; None for a value the car does not have now."""
        speed = None if self.speed_kmh is None else min(self.speed_kmh, OBD_MAX_SPEED_KMH)
        return {
            ENGINE_SPEED.number: self.rpm(rng),
            VEHICLE_SPEED.number: speed,
            FUEL_LEVEL.number: self.fuel_pct,
            ODOMETER.number: self.odometer_km,
        }


def _or_not_available(value: float | None) -> LogicalValue:
    return NOT_AVAILABLE if value is None else value


@dataclass(frozen=True)
class Drive:
    """A drive: over `seconds`, the odometer goes up by `km` and the fuel down by `fuel_used`.

    The speed shown is the average the distance and time make, kept between a walking-pace
    minimum and a motorway maximum (a short test run stands for a long drive: the odometer
    still ends exactly `km` further on).
    """

    odometer_start: float
    fuel_start: float
    km: float
    fuel_used: float
    seconds: float

    @property
    def speed_kmh(self) -> float:
        average = self.km / self.seconds * 3600
        return round(min(MAX_DRIVE_SPEED_KMH, max(MIN_DRIVE_SPEED_KMH, average)), 2)

    def at(self, fraction: float) -> tuple[float, float]:
        """(odometer, fuel) once `fraction` (0..1) of the drive is done; exact at 1."""
        fraction = min(1.0, max(0.0, fraction))
        return (
            round(self.odometer_start + self.km * fraction, 6),
            round(self.fuel_start - self.fuel_used * fraction, 6),
        )
