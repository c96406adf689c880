"""The vehicle's metered records (contract section 4): their own fields, the store adds the
common ones. Fields the contract does not list but the box writes are marked "(beyond the
contract)"."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from edge.vehicle.telemetry import LockView
from edge.wire.fields import Cents, RecordBody, Timestamp, WireModel


class VehicleCheck(WireModel):
    """The pre-use vehicle check: doors, lock, ignition, fault codes where read. null where
    the bus has not shown a value."""

    doors_closed: bool | None = Field(description="Every door closed; null when not known.")
    lock: LockView = Field(description="The central lock as last confirmed on the bus.")
    ignition: bool | None = Field(description="Ignition on; null when not known.")
    engine_running: bool | None = Field(description="Engine running; null when not known.")
    fault_codes: list[str] | None = Field(
        description="OBD-II stored trouble codes; null when the car gives none."
    )


class VehicleEndCheck(VehicleCheck):
    """The vehicle check when the rental ended."""

    notes: list[str] = Field(
        description="(beyond the contract) What made the record incomplete, e.g. "
        "'fuel unknown', 'booking cancelled before the first unlock'; empty when nothing did."
    )


class Charges(WireModel):
    """time_cents = ceil(duration_s / 60) * per_minute_cents; fuel_cents = tank_litres *
    (fuel_start_pct - fuel_end_pct) / 100 * fuel_price_cents_per_litre, rounded half-up
    (negative when more fuel came back than was taken, 0 when either level is unknown);
    total_cents = time_cents + fuel_cents."""

    time_cents: Cents = Field(ge=0, description="Started minutes times the per-minute price.")
    fuel_cents: Cents = Field(description="The fuel used (negative: owed back to the renter).")
    total_cents: Cents = Field(description="time_cents + fuel_cents.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, from the tariff.")


class RentalStarted(RecordBody):
    """The first confirmed unlock of a booked car: the rental clock starts."""

    record_type: ClassVar[str] = "rental_started"

    order_id: str = Field(description="The order of the rental.")
    renter: str = Field(description="The renter, as start_rental named them.")
    fuel_pct: float | None = Field(description="Fuel level in %, to 0.1; null when unknown.")
    odometer_km: float | None = Field(description="Odometer in km, to 0.1; null when unknown.")
    check: VehicleCheck = Field(description="The pre-use vehicle check.")


class RentalEnded(RecordBody):
    """The rental ended (end_rental): locked, start enable withdrawn, charges computed. A
    booking never unlocked ends the same way at no charge."""

    record_type: ClassVar[str] = "rental_ended"

    order_id: str = Field(description="The order of the rental.")
    started_at: Timestamp | None = Field(
        description="When the rental clock started; null for a booking cancelled before the "
        "first unlock."
    )
    ended_at: Timestamp = Field(description="When the rental ended.")
    duration_s: int = Field(
        ge=0, description="Whole seconds on the monotonic clock (0 for a cancelled booking)."
    )
    fuel_start_pct: float | None = Field(description="Fuel at the start; null when unknown.")
    fuel_end_pct: float | None = Field(description="Fuel at the end; null when unknown.")
    odometer_start_km: float | None = Field(description="Odometer at the start; null if unknown.")
    odometer_end_km: float | None = Field(description="Odometer at the end; null if unknown.")
    distance_km: float | None = Field(
        description="odometer_end_km - odometer_start_km; null when either is unknown."
    )
    check: VehicleEndCheck = Field(description="The vehicle check at the end.")
    charges: Charges = Field(description="The charges of the rental, in integer minor units.")


class InstallerLockPulsed(RecordBody):
    """(beyond the contract) An installer grant's lock pulse was accepted; written before the
    frame goes to the car."""

    record_type: ClassVar[str] = "test_lock_pulse"

    grant_id: str = Field(description="The id of the installer grant (its command envelope).")
    action: Literal["lock", "unlock"] = Field(description="What the grant asked for.")


RECORDS: tuple[type[RecordBody], ...] = (RentalStarted, RentalEnded, InstallerLockPulsed)
