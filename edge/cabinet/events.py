"""The events the cabinet publishes on `events` (contract section 2): from the controller
(a slot, a bank, an eject, a reservation) and from the adapter (a board on the line).

Each is published as `{"ts", "type", **its fields}`. A fault (`fault = True`, logged
`box.fault`) means hardware or an operation went wrong; the others are state changes worth a
human's eye (`box.event`).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from edge.cabinet.inputs import Purpose
from edge.cabinet.slot import SlotState
from edge.commands.reply import FailureCode
from edge.wire.fields import EventBody

SLOT = "The cabinet's slot number, from 1."
BOARD = "The board's bus address."
BOARD_SLOTS = "The board's first and last cabinet slot numbers."


class UnknownBank(EventBody):
    """A bank whose id the slot cannot read arrived; it is recorded (`bank_in`, bank_id null)
    and locked in."""

    event_type: ClassVar[str] = "unknown_bank"
    fault: ClassVar[bool] = True

    slot: int = Field(description=SLOT)
    charge_pct: int | None = Field(description="Its charge in %; null when unknown.")


class ForcedRemoval(EventBody):
    """A bank left its slot without an eject: there is no order to bill, the slot is
    quarantined."""

    event_type: ClassVar[str] = "forced_removal"
    fault: ClassVar[bool] = True

    slot: int = Field(description=SLOT)
    bank_id: str | None = Field(description="The bank that left; null when unreadable.")
    charge_pct: int | None = Field(description="Its charge in %; null when unknown.")
    forced: bool | None = Field(
        description="True when the latch read locked as the bank left (pulled out); null when "
        "a reading, not the board's event, showed it gone."
    )


class SlotUnlocked(EventBody):
    """A latch opened under a bank with no eject: it is locked again, the slot quarantined."""

    event_type: ClassVar[str] = "slot_unlocked"
    fault: ClassVar[bool] = True

    slot: int = Field(description=SLOT)
    bank_id: str | None = Field(description="The bank in the slot; null when unreadable.")


class SlotFaultRaised(EventBody):
    """The board reports fault bits on a slot (a new set of them)."""

    event_type: ClassVar[str] = "slot_fault"
    fault: ClassVar[bool] = True

    slot: int = Field(description=SLOT)
    faults: list[str] = Field(
        description="The fault bits, lower case: lock_stuck, sensor_disagree, overtemp, ..."
    )

    def is_fault(self) -> bool:
        return bool(self.faults)  # a list of faults that has emptied is not a fault


class SlotFaultCleared(EventBody):
    """The board reports the slot's fault bits cleared."""

    event_type: ClassVar[str] = "slot_fault_cleared"
    fault: ClassVar[bool] = False

    slot: int = Field(description=SLOT)


class EjectFailure(EventBody):
    """An eject for a rent failed: the bank stays in, the rent's reply says so."""

    event_type: ClassVar[str] = "eject_failed"
    fault: ClassVar[bool] = True

    slot: int = Field(description=SLOT)
    order_id: str = Field(description="The order of the rent.")
    code: FailureCode = Field(description="hardware_timeout or hardware_fault.")
    reason: str = Field(description="What happened, in words.")


class LockFailure(EventBody):
    """Locking a slot (a bank not taken, or not caught by the latch) failed: quarantined."""

    event_type: ClassVar[str] = "lock_failed"
    fault: ClassVar[bool] = True

    slot: int = Field(description=SLOT)
    code: FailureCode = Field(description="hardware_timeout or hardware_fault.")


class EjectNotTaken(EventBody):
    """An ejected bank was not taken in time (or pushed back in): it is locked back in."""

    event_type: ClassVar[str] = "eject_not_taken"
    fault: ClassVar[bool] = False

    slot: int = Field(description=SLOT)
    order_id: str = Field(description="The order of the rent.")
    bank_id: str | None = Field(description="The bank; null when unreadable.")
    reason: str = Field(description="What happened, in words.")


class ReservationExpired(EventBody):
    """A reservation's ttl_s ran out: its slots are free again."""

    event_type: ClassVar[str] = "reservation_expired"
    fault: ClassVar[bool] = False

    reservation_id: str = Field(description="The reservation.")
    purpose: Purpose = Field(description="rent or return.")
    slots: list[int] = Field(description="The slots it still held, ascending.")


class ReservationSlotLost(EventBody):
    """A reserved slot stopped being what was reserved (faulted, disabled, bank pulled): it
    leaves its reservation."""

    event_type: ClassVar[str] = "reservation_slot_lost"
    fault: ClassVar[bool] = False

    reservation_id: str = Field(description="The reservation.")
    slot: int = Field(description=SLOT)
    state: SlotState = Field(description="The slot's state now.")


class BoardUnreachable(EventBody):
    """A board answers nothing, not even GET_INFO: its slots show fault until it answers."""

    event_type: ClassVar[str] = "board_unreachable"
    fault: ClassVar[bool] = True

    board: int = Field(description=BOARD)
    slots: list[int] = Field(description=BOARD_SLOTS)


class BoardReachable(EventBody):
    """A board reported unreachable answers again; its slots are read afresh."""

    event_type: ClassVar[str] = "board_reachable"
    fault: ClassVar[bool] = False

    board: int = Field(description=BOARD)
    slots: list[int] = Field(description=BOARD_SLOTS)


class BoardSlotCountMismatch(EventBody):
    """A board has another number of slots than `[cabinet] slots_per_board`."""

    event_type: ClassVar[str] = "board_slot_count_mismatch"
    fault: ClassVar[bool] = True

    board: int = Field(description=BOARD)
    board_slots: int = Field(description="The slot count the board reports.")
    slots_per_board: int = Field(description="The slot count the config says.")


EVENTS: tuple[type[EventBody], ...] = (
    UnknownBank,
    ForcedRemoval,
    SlotUnlocked,
    SlotFaultRaised,
    SlotFaultCleared,
    EjectFailure,
    LockFailure,
    EjectNotTaken,
    ReservationExpired,
    ReservationSlotLost,
    BoardUnreachable,
    BoardReachable,
    BoardSlotCountMismatch,
)
