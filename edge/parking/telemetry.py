"""The parking box's snapshot on `telemetry` (contract section 5)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.serial.health import SerialLinkHealth
from edge.wire.fields import WireModel
from edge.wire.telemetry import Telemetry

LockView = Literal["raised", "lowered", "moving", "unknown", "fault"]


class ParkingView(WireModel):
    """What the controller shows of the space: the telemetry fields it owns."""

    lock: LockView = Field(
        description="The ground lock as its board last reported it; unknown until it has."
    )
    occupied: bool | None = Field(
        description="A car over the lock; null when the occupancy sensor cannot tell."
    )
    order_id: str | None = Field(description="The order holding the space; null when none.")


class ParkingTelemetry(ParkingView, Telemetry):
    """A shared parking space: the ground lock, the occupancy sensor, the order."""

    link: SerialLinkHealth = Field(description="(beyond the contract) The serial link.")
