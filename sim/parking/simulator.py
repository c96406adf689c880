"""The ground lock on its serial line, the cars that come and go, its faults."""

from __future__ import annotations

from typing import Any

from sim.control import ControlError, require
from sim.slotboard_device import BoardSimulator, Timers

from .ground_lock import GroundLock
from .ops import FAULTS, OPS
from .options import Options


class ParkingSimulator(BoardSimulator):
    def __init__(self, options: Options) -> None:
        self.options = options
        timers = Timers()
        self.lock = GroundLock(
            options.address,
            timers,
            move_s=options.move_s,
            position=options.position,
            car_present=options.car_present,
        )
        super().__init__([self.lock], timers, options.line, ops=OPS, faults=FAULTS)

    def kind_control(self, op: str, command: dict[str, Any]) -> None:
        assert op == "car"
        self.lock.set_car(require(command, "present", bool))

    def kind_fault(self, name: str, on: bool, command: dict[str, Any]) -> dict[str, Any]:
        assert name == "lock_stuck"
        if "slot" in command and require(command, "slot", int) != 1:
            raise ControlError("a ground lock has one lock: 'slot' is 1 or left out")
        self.lock.set_jammed(on)
        return {}

    def kind_state(self) -> dict[str, Any]:
        lock = self.lock
        return {
            "address": lock.address,
            **lock.describe(),
            "faults": {"lock_stuck": lock.jammed},
            "counters": {"moves": lock.moves},
        }
