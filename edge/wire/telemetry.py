"""The snapshots on `telemetry` (contract section 5), one model per kind of box.

Each box's `telemetry()` (edge/vehicle/box.py, edge/cabinet/box.py, edge/parking/box.py) gives
the fields; the agent adds `ts` (edge/agent.py). null stands for what the hardware has not
shown (a stale or unavailable signal, a sensor in fault).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.config import BoxKind
from edge.wire.fields import Timestamp, WireModel
from edge.wire.records import LockView

SlotState = Literal[
    "unknown",
    "empty",
    "occupied",
    "ejecting",
    "locking",
    "fault",
    "quarantined",
    "disabled",
    "reserved_rent",
    "reserved_return",
]


class Telemetry(WireModel):
    """A snapshot of the box; the agent adds `ts` to the box's own fields."""

    ts: Timestamp = Field(description="When the snapshot was taken (RFC 3339 UTC, ms).")


class VehicleTelemetry(Telemetry):
    """A rental car: what the bus shows, the lock and start enable, the rental."""

    fuel_pct: float | None = Field(description="Fuel level in %; null when unknown.")
    odometer_km: float | None = Field(description="Odometer in km; null when unknown.")
    speed_kmh: float | None = Field(description="Speed in km/h; null when unknown.")
    ignition: bool | None = Field(description="Ignition on; null when unknown.")
    engine_running: bool | None = Field(description="Engine running; null when unknown.")
    doors_closed: bool | None = Field(description="Every door closed; null when unknown.")
    lock: LockView = Field(
        description="The central lock as last confirmed on the bus; fault after a command "
        "the bus never confirmed."
    )
    start_enabled: bool | None = Field(
        description="One-key start enabled, as last shown on the bus; null when not shown."
    )
    rental: Literal["none", "booked", "active"] = Field(
        description="booked by start_rental, active from the first confirmed unlock."
    )
    in_service: bool = Field(description="False while held for maintenance or a violation.")


class CabinetSlot(WireModel):
    """One slot of a cabinet."""

    slot: int = Field(ge=1, description="The cabinet's slot number, from 1.")
    state: SlotState = Field(
        description="unknown until first read; reserved_rent / reserved_return for a slot a "
        "reservation holds; fault clears itself, quarantined only by set_slot."
    )
    bank_id: str | None = Field(description="The bank in the slot; null: none, or unreadable.")
    charge_pct: int | None = Field(
        ge=0, le=100, description="Its charge in %; null without a bank or when unknown."
    )
    enabled: bool = Field(description="False while taken out of service by set_slot.")


class SerialLinkHealth(WireModel):
    """(beyond the contract) The slot-board serial link's counters since the agent started."""

    frames_sent: int = Field(ge=0, description="Request frames written.")
    retries: int = Field(ge=0, description="Requests written again with the same seq.")
    timeouts: int = Field(ge=0, description="Requests given up after every attempt.")
    naks: int = Field(ge=0, description="Requests the board answered with a NAK.")
    late_responses: int = Field(ge=0, description="Responses that matched no pending request.")
    bad_responses: int = Field(ge=0, description="Responses whose payload could not be read.")
    reopens: int = Field(ge=0, description="Opens of the port after the first.")
    frames_received: int = Field(ge=0, description="Good frames read off the line.")
    crc_errors: int = Field(ge=0, description="Candidate frames that failed their CRC.")
    garbage_bytes: int = Field(ge=0, description="Bytes dropped outside any good frame.")
    resyncs: int = Field(ge=0, description="Runs of dropped bytes between frames.")


class BoardHealth(WireModel):
    """One slot board on the cabinet's serial line."""

    address: int = Field(ge=0, description="The board's bus address.")
    state: Literal["ok", "unreachable", "unread"] = Field(
        description="unread: answering, not read yet."
    )


class CabinetLinkHealth(SerialLinkHealth):
    """(beyond the contract) The serial link, the boards' event queues and each board."""

    up: bool = Field(description="Whether the serial port is open.")
    events: int = Field(ge=0, description="Board events fetched.")
    duplicate_events: int = Field(ge=0, description="Board events fetched twice and dropped.")
    overflows: int = Field(
        ge=0, description="Event fetches that found a board's queue had overflowed."
    )
    board_resets: int = Field(ge=0, description="Board resets reported.")
    boards: list[BoardHealth] = Field(description="Each board's state, in address order.")


class CabinetTelemetry(Telemetry):
    """A sharing cabinet: every slot."""

    slots: list[CabinetSlot] = Field(description="Every slot, in slot order.")
    link: CabinetLinkHealth = Field(description="(beyond the contract) The serial link.")


class ParkingTelemetry(Telemetry):
    """A shared parking space: the ground lock, the occupancy sensor, the order."""

    lock: Literal["raised", "lowered", "moving", "unknown", "fault"] = Field(
        description="The ground lock as its board last reported it; unknown until it has."
    )
    occupied: bool | None = Field(
        description="A car over the lock; null when the occupancy sensor cannot tell."
    )
    order_id: str | None = Field(description="The order holding the space; null when none.")
    link: SerialLinkHealth = Field(description="(beyond the contract) The serial link.")


TELEMETRY_MODELS: dict[BoxKind, type[Telemetry]] = {
    "vehicle": VehicleTelemetry,
    "cabinet": CabinetTelemetry,
    "parking": ParkingTelemetry,
}
