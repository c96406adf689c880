"""The metered records on `records` (contract section 4), exactly as the box writes them.

The store adds the common fields (edge/store/store.py `Transaction.add_record`); the rest come
from the controllers: edge/vehicle/rental.py, edge/cabinet/records.py, edge/parking/controller.py.
Fields the contract does not list but the box writes are here too, marked "(beyond the
contract)": a record with a field missing or one more than its model names fails validation.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field

from edge.config import DeviceId
from edge.wire.fields import Cents, Timestamp, Uuid, WireModel

LockView = Literal["locked", "unlocked", "unknown", "fault"]


class Record(WireModel):
    """The fields every record carries."""

    record_id: Uuid = Field(
        description="Fixed when the record is written, the same on every resend: the "
        "backend deduplicates by it."
    )
    seq: int = Field(ge=1, description="Per box, strictly increasing, no gaps.")
    device_id: DeviceId = Field(description="The box: 1 to 64 of A-Z a-z 0-9 _ -.")
    type: str = Field(description="The record type.")
    ts: Timestamp = Field(description="When the record was written (RFC 3339 UTC, ms).")
    clock_synced: bool = Field(
        description="False while the box has not confirmed a synchronised wall clock."
    )


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


class RentalStarted(Record):
    """The first confirmed unlock of a booked car: the rental clock starts."""

    type: Literal["rental_started"]
    order_id: str = Field(description="The order of the rental.")
    renter: str = Field(description="The renter, as start_rental named them.")
    fuel_pct: float | None = Field(description="Fuel level in %, to 0.1; null when unknown.")
    odometer_km: float | None = Field(description="Odometer in km, to 0.1; null when unknown.")
    check: VehicleCheck = Field(description="The pre-use vehicle check.")


class RentalEnded(Record):
    """The rental ended (end_rental): locked, start enable withdrawn, charges computed. A
    booking never unlocked ends the same way at no charge."""

    type: Literal["rental_ended"]
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


class BankOut(Record):
    """A bank ejected for a rent was taken out of its slot."""

    type: Literal["bank_out"]
    order_id: str = Field(description="The order of the rent.")
    reservation_id: str | None = Field(
        description="The reservation the bank was rented from; null for a rent by count."
    )
    slot: int = Field(ge=1, description="The cabinet's slot number, from 1.")
    bank_id: str | None = Field(description="The bank's id; null when it could not be read.")
    charge_pct: int | None = Field(
        ge=0, le=100, description="The bank's charge in %; null when unknown."
    )
    reserved_at: Timestamp | None = Field(
        description="(beyond the contract) When the reservation was made; null for a rent by count."
    )
    ejected_at: Timestamp | None = Field(
        description="(beyond the contract) When the latch opened; null when not seen."
    )
    taken_at: Timestamp | None = Field(
        description="(beyond the contract) When the bank was taken; null when it was taken "
        "while the agent was down."
    )
    seen_at: Timestamp = Field(
        description="(beyond the contract) When the box found the bank gone."
    )
    observed_after_restart: bool = Field(
        description="(beyond the contract) True when the bank went while the agent was down "
        "and its first reading after the restart showed it."
    )


class BankIn(Record):
    """A bank was inserted into a slot and locked in, whatever cabinet it was rented from."""

    type: Literal["bank_in"]
    slot: int = Field(ge=1, description="The cabinet's slot number, from 1.")
    bank_id: str | None = Field(description="The bank's id; null when it cannot be identified.")
    charge_pct: int | None = Field(
        ge=0, le=100, description="The bank's charge in %; null when unknown."
    )
    reservation_id: str | None = Field(
        description="The return reservation of the slot it went into; null when the slot was "
        "not reserved."
    )
    reserved_at: Timestamp | None = Field(
        description="(beyond the contract) When that reservation was made; null without one."
    )
    returned_at: Timestamp | None = Field(
        description="(beyond the contract) When the bank was inserted; null when it was "
        "inserted while the agent was down."
    )
    seen_at: Timestamp = Field(
        description="(beyond the contract) When the box found the bank in the slot."
    )
    observed_after_restart: bool = Field(
        description="(beyond the contract) True when the bank came while the agent was down "
        "and its first reading after the restart showed it."
    )


class ParkingStarted(Record):
    """The ground lock is down for the order (lower confirmed by the board)."""

    type: Literal["parking_started"]
    order_id: str = Field(description="The order of the parking.")


class ParkingEnded(Record):
    """The ground lock is up again (raise confirmed by the board): the parking ended."""

    type: Literal["parking_ended"]
    order_id: str = Field(description="The order of the parking.")
    started_at: Timestamp = Field(description="When the parking started.")
    ended_at: Timestamp = Field(description="When the parking ended.")
    duration_s: int = Field(ge=0, description="Whole seconds on the monotonic clock.")


def record_type(model: type[Record]) -> str:
    """The `type` a record model stands for."""
    (name,) = get_args(model.model_fields["type"].annotation)
    return str(name)


AnyRecord = Annotated[
    RentalStarted | RentalEnded | BankOut | BankIn | ParkingStarted | ParkingEnded,
    Field(discriminator="type"),
]

RECORD_MODELS: dict[str, type[Record]] = {
    record_type(model): model for model in get_args(get_args(AnyRecord)[0])
}
"""Each record type's model, by its `type`."""
