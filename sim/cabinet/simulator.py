"""The cabinet on its serial line: its slot boards, what people do at it, its faults."""

from __future__ import annotations

from typing import Any

from firmware_protocol.slotboard import InvalidPayload, SlotFault
from firmware_protocol.slotboard.fields import check_bank_id, check_charge
from sim.control import ControlError, require
from sim.slotboard_device import BoardSimulator, Timers

from .inventory import default_inventory
from .ops import FAULTS, OPS
from .options import Options
from .slot_board import Bank, CabinetBoard, Slot, fault_names

CONDITIONS = {"overtemp": SlotFault.OVERTEMP, "charger_fault": SlotFault.CHARGER_FAULT}


class CabinetSimulator(BoardSimulator):
    def __init__(self, options: Options) -> None:
        self.options = options
        timers = Timers()
        inventory = default_inventory(options.boards, options.slots, options.line.seed)
        self.cabinet: list[CabinetBoard] = []
        for address, banks in enumerate(inventory, start=1):
            first = (address - 1) * options.slots
            slots = [Slot(i + 1, first + i + 1, bank) for i, bank in enumerate(banks)]
            self.cabinet.append(CabinetBoard(address, timers, slots, latch_s=options.latch_s))
        super().__init__(self.cabinet, timers, options.line, ops=OPS, faults=FAULTS)

    # -- BoardSimulator

    async def kind_start(self) -> None:
        if self.options.charge_step_s > 0:
            self._charge_later()

    def kind_control(self, op: str, command: dict[str, Any]) -> None:
        board, slot = self._slot(command)
        if op == "take":
            board.take(slot)
        elif op == "remove":
            board.remove(slot)
        else:
            board.insert(slot, self._bank(command))

    def kind_fault(self, name: str, on: bool, command: dict[str, Any]) -> dict[str, Any]:
        board, slot = self._slot(command)
        if name == "lock_stuck":
            board.set_stuck(slot, on)
        else:
            board.set_condition(slot, CONDITIONS[name], on)
        return {"slot": slot.cabinet_slot}

    def kind_state(self) -> dict[str, Any]:
        slots = [(board, slot) for board in self.cabinet for slot in board.slots]
        return {
            "slots_per_board": self.options.slots,
            "latch_ms": self.options.latch_s * 1000,
            "charge_step_s": self.options.charge_step_s,
            "seed": self.options.line.seed,
            "slots": [_slot_state(board, slot) for board, slot in slots],
            "faults": {
                "lock_stuck": [slot.cabinet_slot for _, slot in slots if slot.stuck],
                **{
                    name: [slot.cabinet_slot for _, slot in slots if slot.faults & bit]
                    for name, bit in CONDITIONS.items()
                },
            },
            "counters": {
                "ejects": {str(slot.cabinet_slot): slot.ejects for _, slot in slots if slot.ejects},
            },
        }

    # -- helpers

    def _charge_later(self) -> None:
        self.timers.later(self.options.charge_step_s, self._charge)

    def _charge(self) -> None:
        for board in self.cabinet:
            board.charge()
        self._charge_later()

    def _slot(self, command: dict[str, Any]) -> tuple[CabinetBoard, Slot]:
        number = require(command, "slot", int)
        per_board = self.options.slots
        if not 1 <= number <= len(self.cabinet) * per_board:
            raise ControlError(f"'slot' is 1..{len(self.cabinet) * per_board}")
        board = self.cabinet[(number - 1) // per_board]
        return board, board.slots[(number - 1) % per_board]

    def _bank(self, command: dict[str, Any]) -> Bank:
        for key in ("bank_id", "charge_pct"):
            if key not in command:
                raise ControlError(f"missing {key!r} (null for unreadable / unknown)")
        bank_id, charge_pct = command["bank_id"], command["charge_pct"]
        if bank_id is not None:
            bank_id = require(command, "bank_id", str)
        if charge_pct is not None:
            charge_pct = require(command, "charge_pct", int)
        try:
            check_bank_id(bank_id)
            check_charge(charge_pct)
        except InvalidPayload as exc:
            raise ControlError(str(exc)) from None
        if bank_id is not None:
            for board in self.cabinet:
                for slot in board.slots:
                    if slot.bank is not None and slot.bank.bank_id == bank_id:
                        raise ControlError(f"bank {bank_id} is in slot {slot.cabinet_slot}")
        return Bank(bank_id, charge_pct)


def _slot_state(board: CabinetBoard, slot: Slot) -> dict[str, Any]:
    bank = slot.bank
    return {
        "slot": slot.cabinet_slot,
        "board": board.address,
        "board_slot": slot.number,
        "lock": slot.lock.name.lower(),
        "latch_moving": slot.moving is not None,
        "bank_id": bank.bank_id if bank is not None else None,
        "charge_pct": bank.charge_pct if bank is not None else None,
        "bank_present": bank is not None,
        "ejected": slot.ejected,
        "charging": slot.charging,
        "charger_on": slot.charger_on,
        "indicator": {"colour": slot.colour.name.lower(), "pattern": slot.pattern.name.lower()},
        "faults": fault_names(slot.faults),
        "stuck": slot.stuck,
        "ejects": slot.ejects,
    }
