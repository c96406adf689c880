"""What the box reads off the car for its records: rounded readings and the vehicle check."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from edge.vehicle.inputs import Signals
from edge.vehicle.records import VehicleCheck
from edge.vehicle.telemetry import LockView

_TENTH = Decimal("0.1")


def tenths(value: float | None) -> Decimal | None:
    """Rounded half-up to 0.1, from the value's shortest decimal form (2.675 -> 2.7, not 2.6)."""
    return None if value is None else Decimal(str(value)).quantize(_TENTH, ROUND_HALF_UP)


def json_number(value: Decimal | None) -> float | None:
    """A tenths Decimal as a JSON number; its text is exactly the decimal (42.5 -> 42.5)."""
    return None if value is None else float(value)


@dataclass(frozen=True)
class Readings:
    fuel_pct: Decimal | None
    odometer_km: Decimal | None

    @classmethod
    def of(cls, signals: Signals) -> "Readings":
        return cls(tenths(signals.fuel_pct), tenths(signals.odometer_km))


def vehicle_check(
    signals: Signals, lock: LockView, fault_codes: tuple[str, ...] | None
) -> VehicleCheck:
    """The vehicle check in a rental record; fault_codes is null when the car gives none."""
    return VehicleCheck(
        doors_closed=signals.doors_closed,
        lock=lock,
        ignition=signals.ignition,
        engine_running=signals.engine_running,
        fault_codes=None if fault_codes is None else list(fault_codes),
    )
