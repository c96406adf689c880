"""A parking ground lock (PROTOCOL.md section 12): one motorised arm with limit switches and an
occupancy sensor.

The arm travels between lowered (level 0) and raised (level 1) in `move_s`; while it travels
the position is moving. RAISE and LOWER answer at once, moving when the motor started or the
position when the arm already is there; POSITION_CHANGED reports moving and then the limit
reached. A command against the direction of travel reverses it from where the arm is. RAISE is
refused (OCCUPIED) while a car is present, and a car arriving over a rising arm obstructs it.
An obstructed arm (a car, or the `lock_stuck` fault) stalls: the board sets MOTOR_STALL and
drives it back to where it came from ("If the arm stalls while rising, the board lowers it
again"), and refuses RAISE and LOWER with HARDWARE_FAULT while the arm stays jammed; the first
move that succeeds clears MOTOR_STALL.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from firmware_protocol.slotboard import (
    BoardKind,
    ErrorCode,
    Frame,
    GetGroundLockRequest,
    GetGroundLockResponse,
    GroundLockFault,
    GroundLockFaultChanged,
    LowerRequest,
    LowerResponse,
    OccupancyChanged,
    Payload,
    Position,
    PositionChanged,
    RaiseRequest,
    RaiseResponse,
)
from sim.control import emit
from sim.slotboard_device import Board, Refused, Timers

# A jammed arm stalls this far into its travel (as a fraction of a full travel), at most.
STALL_AFTER = 0.25
LEVELS = {Position.LOWERED: 0.0, Position.RAISED: 1.0}


class GroundLock(Board):
    kind: ClassVar[BoardKind] = BoardKind.PARKING

    def __init__(
        self,
        address: int,
        timers: Timers,
        *,
        move_s: float,
        position: Position,
        car_present: bool,
    ) -> None:
        super().__init__(address, timers)
        self.move_s = move_s
        self.position = position  # as the limit switches report it
        self.car_present = car_present
        self.faults = GroundLockFault(0)
        self.jammed = False  # the `lock_stuck` fault
        self.moves = 0  # RAISE and LOWER that started the motor
        self.target: Position | None = None  # where the arm is driven while moving
        self._level = LEVELS[position]  # at `_since`
        self._since = 0.0
        self._returning = False  # driven back after a stall
        self._timer: asyncio.TimerHandle | None = None

    @property
    def slot_count(self) -> int:
        return 0

    def describe(self) -> dict[str, Any]:
        return {
            "position": self.position.name.lower(),
            "target": self.target.name.lower() if self.target is not None else None,
            "level": round(self._level_now(), 3),
            "car_present": self.car_present,
            "faults": fault_names(self.faults),
            "stuck": self.jammed,
            "moves": self.moves,
            "move_ms": self.move_s * 1000,
        }

    # -- requests from the box

    def carry_out(self, request: Payload, frame: Frame) -> Payload:
        if isinstance(request, GetGroundLockRequest):
            return GetGroundLockResponse(self.position, self.car_present, self.faults)
        if isinstance(request, RaiseRequest):
            if self.car_present:
                raise Refused(ErrorCode.OCCUPIED, "a car stands over the lock")
            return RaiseResponse(self._command(Position.RAISED, frame.seq))
        if isinstance(request, LowerRequest):
            return LowerResponse(self._command(Position.LOWERED, frame.seq))
        raise Refused(ErrorCode.UNKNOWN_COMMAND, f"{type(request).__name__} is not a ground lock's")

    def _command(self, target: Position, seq: int) -> Position:
        if self.jammed and self.faults & GroundLockFault.MOTOR_STALL:
            raise Refused(ErrorCode.HARDWARE_FAULT, "the arm is jammed (MOTOR_STALL)")
        if self.position == target or (self.target == target and not self._returning):
            return self.position
        self.moves += 1
        emit("raise" if target == Position.RAISED else "lower", seq=seq)
        self._drive(target, returning=False)
        return self.position

    # -- the arm

    def _drive(self, target: Position, *, returning: bool) -> None:
        level = self._level_now()
        self.timers.cancel(self._timer)
        if self.position != Position.MOVING:
            self._report_position(Position.MOVING)
        self.target, self._returning = target, returning
        self._level, self._since = level, self._now()
        distance = abs(LEVELS[target] - level)
        emit("moving", target=target.name.lower(), level=round(level, 3), returning=returning)
        if self.jammed and not returning:
            self._timer = self.timers.later(min(distance, STALL_AFTER) * self.move_s, self.stall)
        else:
            self._timer = self.timers.later(distance * self.move_s, self._arrive)

    def _arrive(self) -> None:
        assert self.target is not None
        target, returning = self.target, self._returning
        self._timer, self.target, self._returning = None, None, False
        self._level = LEVELS[target]
        self._report_position(target)
        if not returning:
            self._set_faults(self.faults & ~GroundLockFault.MOTOR_STALL)

    def stall(self) -> None:
        """The arm is obstructed: MOTOR_STALL, and back to where it came from."""
        assert self.target is not None
        back = Position.LOWERED if self.target == Position.RAISED else Position.RAISED
        emit("stalled", target=self.target.name.lower(), level=round(self._level_now(), 3))
        self._set_faults(self.faults | GroundLockFault.MOTOR_STALL)
        self._drive(back, returning=True)

    def _level_now(self) -> float:
        if self.target is None:
            return self._level
        travelled = (self._now() - self._since) / self.move_s if self.move_s > 0 else 1.0
        goal = LEVELS[self.target]
        step = min(travelled, abs(goal - self._level))
        return self._level + step if goal > self._level else self._level - step

    # -- the world around it

    def set_car(self, present: bool) -> None:
        if present == self.car_present:
            return
        self.car_present = present
        self.queue(OccupancyChanged(present))
        emit("car", present=present)
        if present and self.target == Position.RAISED and not self._returning:
            self.timers.cancel(self._timer)
            self.stall()

    def set_jammed(self, jammed: bool) -> None:
        self.jammed = jammed

    # -- helpers

    def _report_position(self, position: Position) -> None:
        self.position = position
        self.queue(PositionChanged(position))
        emit("position", position=position.name.lower())

    def _set_faults(self, faults: GroundLockFault) -> None:
        if faults != self.faults:
            self.faults = faults
            self.queue(GroundLockFaultChanged(faults))
            emit("lock_faults", faults=fault_names(faults))

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()


def fault_names(faults: GroundLockFault) -> list[str]:
    return [bit.name.lower() for bit in GroundLockFault if bit.name is not None and faults & bit]
