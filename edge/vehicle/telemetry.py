"""The vehicle's telemetry (contract section 5), the part of it the controller owns, and what
`edge-agent status` shows of the vehicle."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.wire.fields import WireModel
from edge.wire.telemetry import Telemetry

LockView = Literal["locked", "unlocked", "unknown", "fault"]
RentalView = Literal["none", "booked", "active"]


class VehicleView(WireModel):
    """The telemetry fields the controller owns: the lock, start enable, the rental."""

    lock: LockView = Field(
        description="The central lock as last confirmed on the bus; fault after a command "
        "the bus never confirmed."
    )
    start_enabled: bool | None = Field(
        description="One-key start enabled, as last shown on the bus; null when not shown."
    )
    rental: RentalView = Field(
        description="booked by start_rental, active from the first confirmed unlock."
    )
    in_service: bool = Field(description="False while held for maintenance or a violation.")
    lock_commanded: Literal["locked", "unlocked"] | None = Field(
        default=None,
        description="On a car whose bus shows no lock state (lock stays unknown: never "
        "confirmed): the position the box last commanded. Null otherwise.",
    )
    start_enabled_as_commanded: bool = Field(
        default=False,
        description="True on a car whose bus shows no start-enable status: start_enabled is "
        "then what the box last commanded, not a reading.",
    )


class VehicleBusView(WireModel):
    """The telemetry fields the bus gives (null where the bus has not shown a value)."""

    fuel_pct: float | None = Field(description="Fuel level in %; null when unknown.")
    odometer_km: float | None = Field(description="Odometer in km; null when unknown.")
    speed_kmh: float | None = Field(description="Speed in km/h; null when unknown.")
    ignition: bool | None = Field(description="Ignition on; null when unknown.")
    engine_running: bool | None = Field(description="Engine running; null when unknown.")
    doors_closed: bool | None = Field(description="Every door closed; null when unknown.")


class VehicleTelemetry(VehicleView, VehicleBusView, Telemetry):
    """A rental car: what the bus shows, the lock and start enable, the rental."""


class VehicleStatus(WireModel):
    """For `edge-agent status`: the rental and the service hold, as last made durable."""

    rental: RentalView = Field(description="The rental's state.")
    order_id: str | None = Field(description="The order of the rental; null without one.")
    renter: str | None = Field(description="The renter; null without a rental.")
    started_at: str | None = Field(
        description="When the rental clock started; null before the first unlock."
    )
    in_service: bool = Field(description="False while held for maintenance or a violation.")
    service_reason: str = Field(description="Why the car is out of service; empty when none.")

    def status_rows(self) -> list[tuple[str, str]]:
        """(label, text) lines of the text report."""
        rental: str = self.rental
        if rental != "none":
            rental += f" order {self.order_id} renter {self.renter}"
            if self.started_at:
                rental += f" started {self.started_at}"
        service = "in service" if self.in_service else f"out of service: {self.service_reason}"
        return [("rental", rental), ("service", service)]
