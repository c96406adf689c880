"""The `result` of the cabinet's replies (contract section 3, cabinet commands)."""

from __future__ import annotations

from pydantic import Field

from edge.cabinet.inputs import Purpose
from edge.cabinet.slot import SlotState
from edge.commands.reply import FailureCode
from edge.wire.fields import ReplyResult, Timestamp, WireModel


class ReserveResult(ReplyResult):
    """reserve, ok: the slots held."""

    reservation_id: str = Field(description="The reservation.")
    purpose: Purpose = Field(description="rent (charged banks) or return (empty slots).")
    slots: list[int] = Field(description="The slots held, ascending.")
    expires_at: Timestamp = Field(description="When the reservation runs out.")


class FailedEject(WireModel):
    """One eject of a rent that failed: its bank stayed in."""

    slot: int = Field(ge=1, description="The cabinet's slot number, from 1.")
    code: FailureCode = Field(description="hardware_timeout or hardware_fault.")
    reason: str = Field(description="What happened, in words.")


class RentResult(ReplyResult):
    """rent, ok or failed (the same shape): which banks ejected, which did not. Ejected banks
    are out whatever the reply says; their `bank_out` records follow when they are taken."""

    order_id: str = Field(description="The order of the rent.")
    reservation_id: str | None = Field(
        description="The reservation rented from; null for a rent by count."
    )
    ejected: list[int] = Field(description="The slots whose latch opened, in eject order.")
    failed: list[FailedEject] = Field(description="The ejects that failed; empty when ok.")


class CancelResult(ReplyResult):
    """cancel, ok: the slots released."""

    reservation_id: str = Field(description="The reservation.")
    released: list[int] = Field(description="The slots it still held, now free.")


class SetSlotResult(ReplyResult):
    """set_slot, ok: the slot's state now."""

    slot: int = Field(ge=1, description="The cabinet's slot number, from 1.")
    enabled: bool = Field(description="As asked.")
    state: SlotState = Field(description="The slot's state now.")


RESULTS: tuple[type[ReplyResult], ...] = (ReserveResult, RentResult, CancelResult, SetSlotResult)
