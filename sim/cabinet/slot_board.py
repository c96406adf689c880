"""A cabinet slot board (PROTOCOL.md section 11): up to 16 slots, each a sprung latch with its
sensor, a bank sensor, an id reader, a charger and an indicator LED.

The latch of an empty slot stands locked and catches a bank pushed in. EJECT energises the
latch, which opens `latch_s` later (LOCK_CHANGED unlocked) while the ejector pushes the bank
out, where it stays until a person takes it (BANK_REMOVED, then the latch springs back:
LOCK_CHANGED locked) or LOCK_SLOT drives the latch closed on it again. A latch under the
`lock_stuck` fault does not move: the board finds that out 500 ms after it drove it and sets
LOCK_STUCK, and then refuses EJECT and LOCK_SLOT with HARDWARE_FAULT for as long as the latch
stays stuck; the first move that succeeds clears LOCK_STUCK.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from firmware_protocol.slotboard import (
    ALL_SLOTS,
    BankInserted,
    BankRemoved,
    BoardKind,
    Colour,
    EjectRequest,
    EjectResponse,
    ErrorCode,
    Frame,
    GetSlotsRequest,
    GetSlotsResponse,
    LockChanged,
    LockSlotRequest,
    LockSlotResponse,
    LockState,
    Pattern,
    Payload,
    ResetReason,
    SetChargingRequest,
    SetChargingResponse,
    SetIndicatorRequest,
    SetIndicatorResponse,
    SlotFault,
    SlotFaultChanged,
    SlotStatus,
)
from sim.control import ControlError, emit
from sim.slotboard_device import Board, Refused, Timers

# PROTOCOL.md 11.1: LOCK_STUCK when "the latch did not reach the commanded state within 500 ms".
LOCK_STUCK_AFTER_S = 0.5
# The charger stops delivering current while either is set (11.1 OVERTEMP, CHARGER_FAULT).
NO_CHARGING = SlotFault.OVERTEMP | SlotFault.CHARGER_FAULT
FULL = 100
NO_FAULTS = SlotFault(0)


@dataclass
class Bank:
    bank_id: str | None  # None: its id cannot be read
    charge_pct: int | None  # None: unknown

    def as_dict(self) -> dict[str, Any]:
        return {"bank_id": self.bank_id, "charge_pct": self.charge_pct}


@dataclass
class Slot:
    number: int  # on its board, 1..16
    cabinet_slot: int  # in the whole cabinet: (board - 1) * slots per board + number
    bank: Bank | None = None
    lock: LockState = LockState.LOCKED  # what the latch sensor reads
    charger_on: bool = True
    colour: Colour = Colour.OFF
    pattern: Pattern = Pattern.STEADY
    faults: SlotFault = NO_FAULTS  # the bits the board reports
    stuck: bool = False  # the `lock_stuck` fault: the latch does not move
    moving: asyncio.TimerHandle | None = None  # a latch being driven
    ejects: int = 0  # banks an EJECT pushed out: the latch opened (a retransmission does not)

    @property
    def ejected(self) -> bool:
        """A bank the latch does not hold: pushed out by EJECT, for a person to take."""
        return self.bank is not None and self.lock == LockState.UNLOCKED

    @property
    def charging(self) -> bool:
        """The charger is delivering current now (GET_SLOTS flag bit 1)."""
        bank = self.bank
        return (
            bank is not None
            and not self.ejected  # pushed off its contacts
            and self.charger_on
            and not self.faults & NO_CHARGING
            and (bank.charge_pct is None or bank.charge_pct < FULL)
        )

    def status(self) -> SlotStatus:
        bank = self.bank
        return SlotStatus(
            lock=self.lock,
            bank_present=bank is not None,
            bank_id=bank.bank_id if bank is not None else None,
            charge_pct=bank.charge_pct if bank is not None else None,
            charging=self.charging,
            faults=self.faults,
        )


class CabinetBoard(Board):
    kind: ClassVar[BoardKind] = BoardKind.CABINET

    def __init__(self, address: int, timers: Timers, slots: list[Slot], *, latch_s: float) -> None:
        super().__init__(address, timers)
        self.slots = slots
        self.latch_s = latch_s

    @property
    def slot_count(self) -> int:
        return len(self.slots)

    def power_on(self, reason: ResetReason = ResetReason.POWER_ON) -> None:
        # PROTOCOL.md 11.5, 11.6: after a reset every charger is enabled, every indicator off.
        for slot in self.slots:
            slot.charger_on = True
            slot.colour, slot.pattern = Colour.OFF, Pattern.STEADY
        super().power_on(reason)

    def describe(self) -> dict[str, Any]:
        return {"slots": [slot.cabinet_slot for slot in self.slots]}

    # -- requests from the box

    def carry_out(self, request: Payload, frame: Frame) -> Payload:
        if isinstance(request, GetSlotsRequest):
            return GetSlotsResponse(tuple(slot.status() for slot in self.slots))
        if isinstance(request, EjectRequest):
            slot = self._slot(request.slot)
            return EjectResponse(slot.number, self._eject(slot, frame.seq))
        if isinstance(request, LockSlotRequest):
            slot = self._slot(request.slot)
            return LockSlotResponse(slot.number, self._lock(slot))
        if isinstance(request, SetChargingRequest):
            for slot in self._slots(request.slot):
                slot.charger_on = request.on
            self._emit_setting("charging", request.slot, on=request.on)
            return SetChargingResponse(request.slot, request.on)
        if isinstance(request, SetIndicatorRequest):
            for slot in self._slots(request.slot):
                slot.colour, slot.pattern = request.colour, request.pattern
            self._emit_setting(
                "indicator",
                request.slot,
                colour=request.colour.name.lower(),
                pattern=request.pattern.name.lower(),
            )
            return SetIndicatorResponse(request.slot, request.colour, request.pattern)
        raise Refused(ErrorCode.UNKNOWN_COMMAND, f"{type(request).__name__} is not a cabinet's")

    def _eject(self, slot: Slot, seq: int) -> LockState:
        if slot.bank is None:
            raise Refused(ErrorCode.NO_BANK, f"slot {slot.number} is empty")
        self._check_drivable(slot)
        if slot.ejected:
            return slot.lock  # the bank waits to be taken already
        self._emit("eject", slot, seq=seq, **slot.bank.as_dict())
        self._drive(slot, LockState.UNLOCKED)
        return slot.lock

    def _lock(self, slot: Slot) -> LockState:
        self._check_drivable(slot)
        if slot.lock != LockState.LOCKED:
            self._emit("lock_slot", slot)
            self._drive(slot, LockState.LOCKED)
        return slot.lock

    def _check_drivable(self, slot: Slot) -> None:
        if slot.moving is not None:
            raise Refused(ErrorCode.BUSY, f"slot {slot.number}'s latch is moving")
        if slot.stuck and slot.faults & SlotFault.LOCK_STUCK:
            raise Refused(ErrorCode.HARDWARE_FAULT, f"slot {slot.number}'s latch is stuck")

    def _drive(self, slot: Slot, target: LockState) -> None:
        if slot.stuck:
            slot.moving = self.timers.later(LOCK_STUCK_AFTER_S, lambda: self._stalled(slot, target))
        elif self.latch_s <= 0:
            self._settle(slot, target)
        else:
            slot.moving = self.timers.later(self.latch_s, lambda: self._settle(slot, target))

    def _stalled(self, slot: Slot, target: LockState) -> None:
        slot.moving = None
        self._set_faults(slot, slot.faults | SlotFault.LOCK_STUCK)
        self._emit("stuck", slot, lock=slot.lock.name.lower(), target=target.name.lower())

    def _settle(self, slot: Slot, target: LockState) -> None:
        slot.moving = None
        self._move_latch(slot, target, "driven")
        if slot.ejected:
            slot.ejects += 1
        self._set_faults(slot, slot.faults & ~SlotFault.LOCK_STUCK)

    def _move_latch(self, slot: Slot, target: LockState, cause: str) -> None:
        slot.lock = target
        self.queue(LockChanged(slot.number, target))
        bank = slot.bank.as_dict() if slot.bank is not None else {}
        self._emit(target.name.lower(), slot, cause=cause, **bank)

    # -- what people do at the cabinet

    def take(self, slot: Slot) -> None:
        """A person takes the bank an EJECT pushed out; the latch springs back to locked."""
        bank = self._bank_of(slot)
        if not slot.ejected:
            raise ControlError(
                f"slot {slot.cabinet_slot}'s bank is latched ('remove' pulls it out by force)"
            )
        self._bank_leaves(slot, bank, forced=False, event="taken")
        if not slot.stuck:
            self._move_latch(slot, LockState.LOCKED, "spring")

    def remove(self, slot: Slot) -> None:
        """A latched bank pulled out by force (BANK_REMOVED forced)."""
        bank = self._bank_of(slot)
        if slot.ejected:
            raise ControlError(f"slot {slot.cabinet_slot}'s bank is not latched: 'take' takes it")
        self._bank_leaves(slot, bank, forced=True, event="removed")

    def insert(self, slot: Slot, bank: Bank) -> None:
        """A bank pushed into an empty slot; a locked latch catches it and stays locked."""
        if slot.bank is not None:
            raise ControlError(f"slot {slot.cabinet_slot} holds a bank already")
        self._still(slot)
        slot.bank = bank
        self.queue(BankInserted(slot.number, bank.bank_id, bank.charge_pct))
        if bank.bank_id is None:
            self._set_faults(slot, slot.faults | SlotFault.ID_UNREADABLE)
        self._emit("inserted", slot, lock=slot.lock.name.lower(), **bank.as_dict())

    def set_stuck(self, slot: Slot, stuck: bool) -> None:
        """The latch stops moving (or moves again; LOCK_STUCK clears on its next good move)."""
        slot.stuck = stuck

    def set_condition(self, slot: Slot, bit: SlotFault, on: bool) -> None:
        """A fault condition (overtemperature, charger fault) arises or ends."""
        self._set_faults(slot, slot.faults | bit if on else slot.faults & ~bit)

    def charge(self) -> None:
        """One step of every charger delivering current: +1 %."""
        for slot in self.slots:
            if slot.charging and slot.bank is not None and slot.bank.charge_pct is not None:
                slot.bank.charge_pct += 1

    # -- helpers

    def _slot(self, number: int) -> Slot:
        if not 1 <= number <= len(self.slots):
            raise Refused(ErrorCode.BAD_SLOT, f"slot {number} is not one of 1..{len(self.slots)}")
        return self.slots[number - 1]

    def _slots(self, number: int) -> list[Slot]:
        return self.slots if number == ALL_SLOTS else [self._slot(number)]

    def _bank_of(self, slot: Slot) -> Bank:
        if slot.bank is None:
            raise ControlError(f"slot {slot.cabinet_slot} is empty")
        self._still(slot)
        return slot.bank

    def _still(self, slot: Slot) -> None:
        if slot.moving is not None:
            raise ControlError(f"slot {slot.cabinet_slot}'s latch is moving; try again")

    def _bank_leaves(self, slot: Slot, bank: Bank, *, forced: bool, event: str) -> None:
        slot.bank = None
        self.queue(BankRemoved(slot.number, forced))
        self._set_faults(slot, slot.faults & ~SlotFault.ID_UNREADABLE)
        self._emit(event, slot, forced=forced, **bank.as_dict())

    def _set_faults(self, slot: Slot, faults: SlotFault) -> None:
        if faults != slot.faults:
            slot.faults = faults
            self.queue(SlotFaultChanged(slot.number, faults))
            self._emit("slot_faults", slot, faults=fault_names(faults))

    def _emit(self, event: str, slot: Slot, **fields: Any) -> None:
        emit(event, slot=slot.cabinet_slot, board=self.address, board_slot=slot.number, **fields)

    def _emit_setting(self, event: str, number: int, **fields: Any) -> None:
        slot = "all" if number == ALL_SLOTS else self.slots[number - 1].cabinet_slot
        emit(event, board=self.address, slot=slot, **fields)


def fault_names(faults: SlotFault) -> list[str]:
    return [bit.name.lower() for bit in SlotFault if bit.name is not None and faults & bit]
