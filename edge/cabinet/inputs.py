"""What the adapter feeds the cabinet controller: slot readings, slot changes the boards report,
the outcomes of the board requests it carried out, timers and commands.

Slots are numbered across the whole cabinet, 1 to N: the first board's slots first
(`cabinet.boards` in slot order). The adapter maps a board address and its slot to this number.
"""

from dataclasses import dataclass
from typing import Literal

from edge.commands.reply import FailureCode
from edge.intents import OffTimeCounted as OffTimeCounted
from edge.intents import TimerFired as TimerFired
from firmware_protocol.slotboard import LockState, SlotFault

Purpose = Literal["rent", "return"]


@dataclass(frozen=True)
class SlotReading:
    """One slot as GET_SLOTS reported it. bank_id None: no bank, or an id that cannot be read."""

    slot: int
    lock: LockState
    bank_present: bool
    bank_id: str | None
    charge_pct: int | None
    faults: SlotFault


@dataclass(frozen=True)
class InventoryRead:
    """Slots as read from the boards: all of them or any subset (a board may not answer).

    The first reading of a slot after `restore` reconciles it with the snapshot: what changed
    while the agent was down is recorded with `observed_after_restart: true`.
    """

    slots: tuple[SlotReading, ...]


@dataclass(frozen=True)
class BankInserted:
    slot: int
    bank_id: str | None
    charge_pct: int | None


@dataclass(frozen=True)
class BankRemoved:
    """`forced`: the latch read locked as the bank left (pulled out, never ejected)."""

    slot: int
    forced: bool


@dataclass(frozen=True)
class LockChanged:
    slot: int
    lock: LockState


@dataclass(frozen=True)
class SlotFaultChanged:
    """The slot's whole new set of fault bits."""

    slot: int
    faults: SlotFault


@dataclass(frozen=True)
class EjectDone:
    """The board accepted EJECT; `lock` is the latch reading in its response."""

    slot: int
    lock: LockState = LockState.UNKNOWN


@dataclass(frozen=True)
class EjectFailed:
    """EJECT got no response (hardware_timeout) or a NAK (hardware_fault): not carried out."""

    slot: int
    code: FailureCode


@dataclass(frozen=True)
class LockDone:
    """The board accepted LOCK_SLOT; `lock` is the latch reading in its response."""

    slot: int
    lock: LockState


@dataclass(frozen=True)
class LockFailed:
    slot: int
    code: FailureCode


@dataclass(frozen=True)
class Reserve:
    command_id: str
    reservation_id: str
    purpose: Purpose
    count: int
    ttl_s: float


@dataclass(frozen=True)
class Rent:
    """Exactly one of reservation_id and count."""

    command_id: str
    order_id: str
    reservation_id: str | None = None
    count: int | None = None


@dataclass(frozen=True)
class Cancel:
    command_id: str
    reservation_id: str


@dataclass(frozen=True)
class SetSlot:
    command_id: str
    slot: int
    enabled: bool


@dataclass(frozen=True)
class InstallerEject:
    """An installer grant's test eject of one slot; `command_id` is the grant's id."""

    command_id: str
    slot: int


Command = Reserve | Rent | Cancel | SetSlot | InstallerEject
SlotChange = BankInserted | BankRemoved | LockChanged | SlotFaultChanged
"""A change of one slot, as a board reports it in its event queue."""
Outcome = EjectDone | EjectFailed | LockDone | LockFailed
"""The one outcome of an Eject or a LockSlot the adapter carried out."""
CabinetInput = InventoryRead | SlotChange | Outcome | TimerFired | OffTimeCounted | Command
