"""The vehicle's command types and their args (contract section 3, vehicle commands)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema

from edge.commands.args import CommandArgs, CommandSpec, Reference, StrictModel, decimal_number


class Tariff(StrictModel):
    # Bounds far beyond any real tariff keep every charge an exact, small integer.
    per_minute_cents: int = Field(ge=0, le=1_000_000)
    fuel_price_cents_per_litre: int = Field(ge=0, le=1_000_000)
    # A JSON number (a tank may hold 42.7 l), held as Decimal: it is a factor of money.
    tank_litres: Annotated[
        Decimal,
        BeforeValidator(decimal_number),
        Field(gt=0, le=10_000, decimal_places=3),
        WithJsonSchema(
            {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 10_000,
                "description": "litres, at most 3 decimals",
            }
        ),
    ]
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class StartRentalArgs(CommandArgs):
    order_id: Reference
    renter: Reference
    tariff: Tariff


class UnlockArgs(CommandArgs):
    order_id: Reference


class LockArgs(CommandArgs):
    order_id: Reference


class EndRentalArgs(CommandArgs):
    order_id: Reference


class SetServiceArgs(CommandArgs):
    in_service: bool
    reason: str = Field(max_length=500)


class InstallerLockPulseArgs(CommandArgs):
    action: Literal["lock", "unlock"]


VEHICLE_COMMANDS: Mapping[str, CommandSpec] = {
    "start_rental": CommandSpec(
        "vehicle",
        StartRentalArgs,
        "Only when the car has no booked or active rental and is in service (not in "
        "maintenance, no open violation). Books the car for the order.",
        new_work=True,
    ),
    "unlock": CommandSpec(
        "vehicle",
        UnlockArgs,
        "Order must match the active rental. Opens the central lock and enables one-key "
        "start. The first unlock starts the rental clock and writes a rental_started "
        "record.",
    ),
    "lock": CommandSpec(
        "vehicle",
        LockArgs,
        "Locks the doors mid-rental and withdraws start enable (deferred while the engine runs).",
    ),
    "end_rental": CommandSpec(
        "vehicle",
        EndRentalArgs,
        "Refused while the engine runs or a door is open. Locks, withdraws start "
        "enable, reads fuel and odometer, writes a rental_ended record; the reply's "
        "result is that record.",
    ),
    "set_service": CommandSpec(
        "vehicle",
        SetServiceArgs,
        "Maintenance or violation hold: no new rental while out of service.",
    ),
    "test_lock_pulse": CommandSpec(
        "vehicle",
        InstallerLockPulseArgs,
        "(installer grant) Locks or unlocks the central lock once, start enable untouched: "
        "only when no rental is booked or active, the engine is off and the lock does not "
        "already show that position. A test_lock_pulse record naming the grant is written "
        "before the frame is sent; the reply comes when the bus confirms the lock (or "
        "failed, hardware_timeout).",
        installer=True,
    ),
}
