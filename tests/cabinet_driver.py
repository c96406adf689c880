"""Drives the cabinet controller as its adapter would: a clock, slot readings, and helpers over
intents."""

from __future__ import annotations

import json
from typing import TypeVar

from vehicle_driver import wall

from edge.cabinet.controller import CabinetController
from edge.cabinet.inputs import CabinetInput, InventoryRead, SlotReading
from edge.cabinet.telemetry import SlotView
from edge.clock import Now, OffTime
from edge.intents import Intent, Reply
from firmware_protocol.slotboard import LockState, SlotFault

SLOTS = 6
MIN_CHARGE = 80
TAKE_TIMEOUT_S = 30.0
LOCKED = LockState.LOCKED
UNLOCKED = LockState.UNLOCKED
HEALTHY = SlotFault(0)

T = TypeVar("T")

__all__ = [
    "LOCKED",
    "MIN_CHARGE",
    "SLOTS",
    "TAKE_TIMEOUT_S",
    "UNLOCKED",
    "Cabinet",
    "of_type",
    "reading",
    "wall",
]


def of_type(intents: list[Intent], kind: type[T]) -> list[T]:
    return [intent for intent in intents if isinstance(intent, kind)]


def reading(
    slot: int,
    bank_id: str | None = None,
    charge_pct: int | None = None,
    *,
    present: bool | None = None,
    lock: LockState = LOCKED,
    faults: SlotFault = HEALTHY,
) -> SlotReading:
    has_bank = bank_id is not None if present is None else present
    return SlotReading(slot, lock, has_bank, bank_id, charge_pct if has_bank else None, faults)


class Cabinet:
    """The controller as the adapter drives it."""

    def __init__(self, stock: dict[int, tuple[str, int]] | None = None) -> None:
        self.controller = CabinetController(SLOTS, MIN_CHARGE, TAKE_TIMEOUT_S)
        self.mono = 1000.0
        self.synced = True
        self.off_times: tuple[OffTime, ...] = ()  # counted so far (edge.clock.Now.since)
        self.counter = 0
        if stock is not None:
            self.send(self.inventory(stock))

    @property
    def now(self) -> Now:
        return Now(self.mono, wall(self.mono), self.synced, self.off_times)

    @staticmethod
    def inventory(stock: dict[int, tuple[str, int]]) -> InventoryRead:
        return InventoryRead(
            tuple(reading(n, *stock[n]) if n in stock else reading(n) for n in range(1, SLOTS + 1))
        )

    def send(self, event: CabinetInput) -> list[Intent]:
        return self.controller.handle(event, self.now)

    def wait(self, seconds: float) -> None:
        self.mono += seconds

    def command_id(self) -> str:
        self.counter += 1
        return f"cmd-{self.counter}"

    def state(self, slot: int) -> str:
        return str(self.controller.view().slots[slot - 1].state)

    def states(self) -> list[SlotView]:
        return [entry.state for entry in self.controller.view().slots]

    def restart(self) -> list[Intent]:
        """The agent crashed and came back: restored from its JSON snapshot, then resumed."""
        snapshot = json.loads(self.controller.snapshot().model_dump_json())
        self.controller = CabinetController.restore(snapshot, SLOTS, MIN_CHARGE, TAKE_TIMEOUT_S)
        return self.controller.resume(self.now)

    @staticmethod
    def reply(intents: list[Intent]) -> Reply:
        (reply,) = of_type(intents, Reply)
        return reply
