"""What the adapter feeds the vehicle controller: bus signals, trouble codes, timers, commands."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from edge.intents import TimerFired
from firmware_protocol.can.values import LockState


@dataclass(frozen=True)
class Signals:
    """The complete current bus snapshot; None means unknown (stale or not available)."""

    fuel_pct: float | None = None
    odometer_km: float | None = None
    speed_kmh: float | None = None
    ignition: bool | None = None
    engine_running: bool | None = None
    doors_closed: bool | None = None
    lock_state: LockState | None = None
    start_enabled: bool | None = None


@dataclass(frozen=True)
class SignalsUpdated:
    signals: Signals


@dataclass(frozen=True)
class TroubleCodes:
    """OBD stored DTCs; None when the car does not give them."""

    codes: tuple[str, ...] | None


@dataclass(frozen=True)
class Tariff:
    per_minute_cents: int
    fuel_price_cents_per_litre: int
    tank_litres: Decimal
    currency: str


@dataclass(frozen=True)
class StartRental:
    command_id: str
    order_id: str
    renter: str
    tariff: Tariff


@dataclass(frozen=True)
class Unlock:
    command_id: str
    order_id: str


@dataclass(frozen=True)
class Lock:
    command_id: str
    order_id: str


@dataclass(frozen=True)
class EndRental:
    command_id: str
    order_id: str


@dataclass(frozen=True)
class SetService:
    command_id: str
    in_service: bool
    reason: str


@dataclass(frozen=True)
class InstallerLockPulse:
    """An installer grant's lock or unlock of a car nobody rents; `command_id` is the grant's
    id."""

    command_id: str
    action: Literal["lock", "unlock"]


Command = StartRental | Unlock | Lock | EndRental | SetService | InstallerLockPulse
VehicleInput = SignalsUpdated | TroubleCodes | TimerFired | Command
