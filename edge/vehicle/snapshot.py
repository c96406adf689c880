"""The vehicle controller's durable state, as the store keeps it (JSON, version 1).

The JSON is exactly what the dict snapshots before these models wrote: a box upgraded in the
field restores the state its store holds. Decimals are kept as their text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

from edge.controller import Snapshot, SnapshotPart
from edge.vehicle.states import RentalState

SNAPSHOT_VERSION = 1

DecimalText = Annotated[Decimal, PlainSerializer(str, return_type=str)]
"""A Decimal written as its exact text ("42.7")."""


class TariffSnapshot(SnapshotPart):
    per_minute_cents: int
    fuel_price_cents_per_litre: int
    tank_litres: DecimalText
    currency: str


class RentalSnapshot(SnapshotPart):
    state: RentalState
    order_id: str | None
    renter: str | None
    tariff: TariffSnapshot | None
    started_mono: float | None
    started_wall: str | None
    # started_wall was taken on a synchronised clock; absent (None) in snapshots from before
    started_synced: bool | None = Field(default=None, exclude_if=lambda value: value is None)
    fuel_start_pct: DecimalText | None
    odometer_start_km: DecimalText | None


class ActuatorSnapshot(SnapshotPart):
    timer_seq: int


class StartEnableSnapshot(ActuatorSnapshot):
    withdraw_pending: bool


class VehicleSnapshot(Snapshot):
    in_service: bool
    service_reason: str
    rental: RentalSnapshot
    command_in_flight: str | None
    lock: ActuatorSnapshot
    start_enable: StartEnableSnapshot
