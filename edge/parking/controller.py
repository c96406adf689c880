"""The parking box: the ground lock's reports and commands in; arm requests, timers, records,
replies and events out.

- lower (only with no order holding the space and the arm raised) lowers the arm for the order;
  `parking_started` is written and the reply sent once the board reports it lowered.
- raise (only for the order holding the space, and only while the occupancy sensor reports no
  car) raises it; `parking_ended` (with started_at, ended_at and duration_s in whole seconds of
  the monotonic clock) is written and the reply sent once the board reports it raised. A raise
  of an arm already raised ends the parking at once.
- A car seen over the lock while it rises (or the sensor failing) sends it down again; the raise
  is refused (`rejected`, `not_allowed`) and the parking goes on.
- A move that fails or does not reach its limit within `move_timeout_s` puts the lock in fault
  (event) and is replied `failed` (`hardware_timeout` or `hardware_fault`). A failed lower ends
  the order without a record; a failed raise leaves it parked.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import JsonValue

from edge.clock import Now
from edge.commands.reply import RejectCode
from edge.controller import ControllerBase, SnapshotError, restore_snapshot
from edge.intents import Intent, TimerFired
from edge.parking.ground_lock import (
    DOWN,
    FAULT,
    LOWERED,
    RAISED,
    RAISING,
    UP,
    GroundLock,
    Outcome,
)
from edge.parking.inputs import (
    GroundLockFaultChanged,
    InstallerMove,
    LockStatus,
    Lower,
    LowerDone,
    LowerFailed,
    OccupancyChanged,
    ParkingInput,
    PositionChanged,
    Raise,
    RaiseDone,
    RaiseFailed,
)
from edge.parking.records import InstallerMoved, ParkingEnded, ParkingStarted
from edge.parking.results import InstallerMoveResult, LowerResult
from edge.parking.snapshot import (
    SNAPSHOT_VERSION,
    DescribedOrder,
    InstallerMovePart,
    ParkingDescription,
    ParkingOrder,
    ParkingSnapshot,
    Phase,
)
from edge.parking.telemetry import ParkingView
from firmware_protocol.slotboard import GroundLockFault, Position

__all__ = ["ParkingController", "SnapshotError"]

NOT_ALLOWED, BUSY = RejectCode.NOT_ALLOWED, RejectCode.BUSY


class ParkingController(ControllerBase):
    def __init__(self, move_timeout_s: float) -> None:
        super().__init__()
        self._lock = GroundLock(self._outbox, move_timeout_s)
        self._order: ParkingOrder | None = None
        self._test: InstallerMovePart | None = None  # an installer's test move under way

    def handle(self, event: ParkingInput, now: Now) -> list[Intent]:
        lock = self._lock
        match event:
            case LockStatus(position=position, car_present=car_present, faults=faults):
                lock.fault_bits(faults)
                lock.car_present = car_present
                self._guard()
                lock.shows(position)
            case PositionChanged(position=position):
                lock.shows(position)
            case OccupancyChanged(car_present=car_present):
                lock.car_present = car_present
            case GroundLockFaultChanged(faults=faults):
                lock.fault_bits(faults)
            case RaiseDone(position=position):
                lock.board_answered(UP, position)
            case LowerDone(position=position):
                lock.board_answered(DOWN, position)
            case RaiseFailed(code=code):
                lock.board_failed(UP, code)
            case LowerFailed(code=code):
                lock.board_failed(DOWN, code)
            case TimerFired(name=name):
                lock.timer_fired(name)
            case Lower():
                self._lower(event, now)
            case Raise():
                self._raise(event, now)
            case InstallerMove():
                self._installer_move(event)
        self._guard()
        self._advance(now)
        return self._take_outbox()

    def view(self) -> ParkingView:
        """The telemetry fields of contract section 5 (`lock` is "unknown" until reported)."""
        return ParkingView(
            lock=self._lock.view,
            occupied=self._lock.occupied,
            order_id=None if self._order is None else self._order.order_id,
        )

    @property
    def moving(self) -> bool:
        """A lower or raise is under way (its reply is still to come)."""
        order = self._order
        if self._test is not None:
            return True
        return order is not None and order.phase in (Phase.LOWERING, Phase.RAISING)

    def describe(self) -> ParkingDescription:
        """For `edge-agent status`: the parking order, as last made durable."""
        order = self._order
        if order is None:
            return ParkingDescription(order=None)
        described = DescribedOrder(
            order_id=order.order_id, phase=order.phase, started_at=order.started_at
        )
        return ParkingDescription(order=described)

    def snapshot(self) -> ParkingSnapshot:
        return ParkingSnapshot(
            version=SNAPSHOT_VERSION,
            order=None if self._order is None else self._order.model_copy(),
            timer_seq=self._lock.timer_seq,
            test=None if self._test is None else self._test.model_copy(),
        )

    @classmethod
    def restore(cls, saved: JsonValue, move_timeout_s: float) -> ParkingController:
        """After a restart: the order goes on; the arm and the car are unknown until the board
        reports them, and the arm is never moved by itself. Call resume() once next."""
        snapshot = restore_snapshot(ParkingSnapshot, saved, SNAPSHOT_VERSION, "parking")
        controller = cls(move_timeout_s)
        controller._order = snapshot.order
        controller._test = snapshot.test
        controller._lock.timer_seq = snapshot.timer_seq
        return controller

    def resume(self, now: Now) -> list[Intent]:
        """A lower or raise that was under way waits for the board's report (and its timer):
        it ends as the arm is found, without being sent again."""
        order = self._order
        if order is not None and order.command_id is not None:
            self._lock.resume_move(DOWN if order.phase is Phase.LOWERING else UP)
        if self._test is not None:
            self._lock.resume_move(UP if self._test.direction == "raise" else DOWN)
        return self._take_outbox()

    # -- commands -------------------------------------------------------------------------------

    def _lower(self, command: Lower, now: Now) -> None:
        lock, order = self._lock, self._order
        if order is not None:
            self._reject(command.command_id, NOT_ALLOWED, f"order {order.order_id} holds the space")
        elif lock.moving or lock.position is Position.MOVING:
            self._reject(command.command_id, BUSY, "the ground lock is moving")
        elif lock.position is None:
            self._reject(command.command_id, BUSY, "the ground lock has not reported yet")
        elif lock.state == LOWERED:
            # Already down with no order (a lower whose answers were all lost, say): the
            # parking starts at once, as a raise of a raised arm ends one at once.
            self._order = ParkingOrder(
                order_id=command.order_id, phase=Phase.LOWERING, command_id=command.command_id
            )
            self._started(self._order, command.command_id, now)
        elif lock.state == RAISED or (lock.state == FAULT and lock.position is Position.RAISED):
            # From fault too, when the arm shows raised: a lower is how a repaired arm is
            # tried again (a raise needs an order).
            self._order = ParkingOrder(
                order_id=command.order_id, phase=Phase.LOWERING, command_id=command.command_id
            )
            lock.move(DOWN)
        else:
            self._reject(command.command_id, NOT_ALLOWED, f"the ground lock is {lock.view}")

    def _raise(self, command: Raise, now: Now) -> None:
        lock, order = self._lock, self._order
        if order is None:
            self._reject(command.command_id, NOT_ALLOWED, "no order holds the space")
        elif order.order_id != command.order_id:
            detail = f"order mismatch: order {order.order_id} holds the space"
            self._reject(command.command_id, NOT_ALLOWED, detail)
        elif order.phase is not Phase.PARKED or lock.moving or lock.position is Position.MOVING:
            self._reject(command.command_id, BUSY, "the ground lock is moving")
        elif lock.occupied is True:
            self._reject(command.command_id, NOT_ALLOWED, "a car is over the lock")
        elif lock.occupied is None:
            detail = "the occupancy sensor cannot tell whether a car is over the lock"
            self._reject(command.command_id, NOT_ALLOWED, detail)
        elif lock.position is None:
            self._reject(command.command_id, BUSY, "the ground lock has not reported yet")
        elif lock.state == RAISED:
            self._end(order, command.command_id, now)
        elif lock.state in (LOWERED, FAULT):
            order.phase, order.command_id = Phase.RAISING, command.command_id
            lock.move(UP)
        else:
            self._reject(command.command_id, NOT_ALLOWED, f"the ground lock is {lock.view}")

    def _installer_move(self, command: InstallerMove) -> None:
        """An installer's raise or lower with no order: never over a car, never under one's
        parking."""
        lock, order = self._lock, self._order
        raising = command.direction == "raise"
        target, direction = (RAISED, UP) if raising else (LOWERED, DOWN)
        if order is not None:
            self._reject(command.command_id, NOT_ALLOWED, f"order {order.order_id} holds the space")
        elif self._test is not None or lock.moving or lock.position is Position.MOVING:
            self._reject(command.command_id, BUSY, "the ground lock is moving")
        elif lock.position is None:
            self._reject(command.command_id, BUSY, "the ground lock has not reported yet")
        elif raising and lock.occupied is not False:
            detail = (
                "a car is over the lock"
                if lock.occupied
                else "the occupancy sensor cannot tell whether a car is over the lock"
            )
            self._reject(command.command_id, NOT_ALLOWED, detail)
        elif lock.state == target:
            self._record(InstallerMoved(grant_id=command.command_id, direction=command.direction))
            self._ok(command.command_id, _installer_moved(command.direction))
        elif lock.state in (LOWERED, RAISED, FAULT):
            self._record(InstallerMoved(grant_id=command.command_id, direction=command.direction))
            self._test = InstallerMovePart(
                command_id=command.command_id, direction=command.direction
            )
            lock.move(direction)
        else:
            self._reject(command.command_id, NOT_ALLOWED, f"the ground lock is {lock.view}")

    # -- outcomes -------------------------------------------------------------------------------

    def _guard(self) -> None:
        """Never raise over a car: a car seen (or the sensor failing) stops a raise, which is
        refused; the parking goes on."""
        lock, order = self._lock, self._order
        sensor_failed = bool(lock.faults & GroundLockFault.OCCUPANCY_SENSOR)
        if lock.state != RAISING or not (lock.car_present is True or sensor_failed):
            return
        lock.give_up_raise()
        test = self._test
        if test is not None and test.direction == "raise":
            self._reject(test.command_id, NOT_ALLOWED, "a car came over the lock while it rose")
            self._test = None
        if order is not None and order.phase is Phase.RAISING and order.command_id is not None:
            detail = "a car came over the lock while it was rising"
            self._reject(order.command_id, NOT_ALLOWED, detail)
            order.phase, order.command_id = Phase.PARKED, None

    def _advance(self, now: Now) -> None:
        order, lock = self._order, self._lock
        test = self._test
        if test is not None and lock.outcome is not None:
            outcome, lock.outcome, self._test = lock.outcome, None, None
            if outcome is Outcome.REACHED:
                self._ok(test.command_id, _installer_moved(test.direction))
            else:
                self._unsuccessful(test.command_id, outcome)
            return
        if order is None or order.command_id is None or lock.outcome is None:
            return
        command_id, outcome = order.command_id, lock.outcome
        lock.outcome = None
        order.command_id = None
        if order.phase is Phase.LOWERING:
            if outcome is Outcome.REACHED:
                self._started(order, command_id, now)
            else:
                self._order = None
                self._unsuccessful(command_id, outcome)
        elif outcome is Outcome.REACHED:
            self._end(order, command_id, now)
        else:
            order.phase = Phase.PARKED
            self._unsuccessful(command_id, outcome)

    def _started(self, order: ParkingOrder, command_id: str, now: Now) -> None:
        order.phase, order.started_mono, order.started_at = Phase.PARKED, now.mono, now.wall
        order.started_synced = now.clock_synced
        order.command_id = None
        self._record(ParkingStarted(order_id=order.order_id))
        self._ok(command_id, LowerResult(order_id=order.order_id, lock="lowered"))

    def _end(self, order: ParkingOrder, command_id: str, now: Now) -> None:
        assert order.started_mono is not None
        assert order.started_at is not None
        ended = ParkingEnded(
            order_id=order.order_id,
            started_at=order.started_at,
            ended_at=now.wall,
            duration_s=max(0, math.floor(now.since(order.started_mono))),
        )
        self._order = None
        self._record(ended, synced=order.started_synced is True)
        self._ok(command_id, ended)

    def _unsuccessful(self, command_id: str, outcome: Outcome) -> None:
        lock = self._lock
        if outcome is Outcome.REFUSED:
            self._reject(command_id, NOT_ALLOWED, lock.reason)
        else:
            self._fail(command_id, lock.code, lock.reason)


def _installer_moved(direction: Literal["raise", "lower"]) -> InstallerMoveResult:
    return InstallerMoveResult(
        direction=direction, lock="raised" if direction == "raise" else "lowered"
    )
