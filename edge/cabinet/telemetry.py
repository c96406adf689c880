"""What the cabinet shows: its telemetry (contract section 5), and the controller's view of its
slots, reservations and rents (`edge-agent status`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from edge.cabinet.inputs import Purpose
from edge.cabinet.slot import SlotState
from edge.serial.health import SerialLinkHealth
from edge.wire.fields import Timestamp, WireModel
from edge.wire.telemetry import Telemetry


class Reserved(StrEnum):
    """How telemetry shows an empty or occupied slot that a reservation holds."""

    RENT = "reserved_rent"
    RETURN = "reserved_return"


SlotView = SlotState | Reserved
"""A slot's state as telemetry shows it: its own state, or reserved."""


class CabinetSlot(WireModel):
    """One slot of a cabinet."""

    slot: int = Field(ge=1, description="The cabinet's slot number, from 1.")
    state: SlotView = Field(
        description="unknown until first read; reserved_rent / reserved_return for a slot a "
        "reservation holds; fault clears itself, quarantined only by set_slot."
    )
    bank_id: str | None = Field(description="The bank in the slot; null: none, or unreadable.")
    charge_pct: int | None = Field(
        ge=0, le=100, description="Its charge in %; null without a bank or when unknown."
    )
    enabled: bool = Field(description="False while taken out of service by set_slot.")


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


class CabinetView(WireModel):
    """The telemetry fields the cabinet controller owns."""

    slots: list[CabinetSlot] = Field(description="Every slot, in slot order.")


class ReservationView(WireModel):
    reservation_id: str
    purpose: Purpose
    slots: list[int]
    expires_at: Timestamp


class RentView(WireModel):
    order_id: str
    reservation_id: str | None
    slots: list[int]


class CabinetDescription(CabinetView):
    """For `edge-agent status`: the slots, reservations and rents, as last made durable."""

    reservations: list[ReservationView]
    rents: list[RentView]

    def status_rows(self) -> list[tuple[str, str]]:
        """(label, text) lines of the text report: the slots, reservations and rents."""
        rows = [("slots", "slot state           bank             charge enabled")]
        for slot in self.slots:
            charge = "-" if slot.charge_pct is None else f"{slot.charge_pct}%"
            rows.append(
                (
                    "",
                    f"{slot.slot:>4} {slot.state:<16} {slot.bank_id or '-':<16}"
                    f" {charge:>6} {'yes' if slot.enabled else 'no'}",
                )
            )
        for held in self.reservations:
            rows.append(
                (
                    "reservation",
                    f"{held.reservation_id} {held.purpose} slots {held.slots}"
                    f" until {held.expires_at}",
                )
            )
        for rent in self.rents:
            rows.append(("rent", f"order {rent.order_id} slots {rent.slots}"))
        return rows
