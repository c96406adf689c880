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

import copy
import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from edge.parking.events import (
    GroundLockFaultChanged,
    LockStatus,
    Lower,
    LowerDone,
    LowerFailed,
    Now,
    OccupancyChanged,
    ParkingEvent,
    PositionChanged,
    Raise,
    RaiseDone,
    RaiseFailed,
    TimerFired,
)
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
from edge.parking.intents import Intent, Reply, ReplyStatus, WriteRecord
from firmware_protocol.slotboard import GroundLockFault, Position

SNAPSHOT_VERSION = 1
Phase = Literal["lowering", "parked", "raising"]
PHASES = ("lowering", "parked", "raising")


class SnapshotError(ValueError):
    """A snapshot the parking controller cannot be restored from."""


@dataclass
class ParkingOrder:
    order_id: str
    phase: Phase
    command_id: str | None  # the lower or raise under way
    started_mono: float | None = None
    started_at: str | None = None


class ParkingController:
    def __init__(self, move_timeout_s: float) -> None:
        self._outbox: list[Intent] = []
        self._lock = GroundLock(self._outbox, move_timeout_s)
        self._order: ParkingOrder | None = None

    def handle(self, event: ParkingEvent, now: Now) -> list[Intent]:
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
        self._guard()
        self._advance(now)
        return self._take_outbox()

    def view(self) -> dict[str, Any]:
        """The telemetry fields of contract section 5 (`lock` is "unknown" until reported)."""
        return {
            "lock": self._lock.view,
            "occupied": self._lock.occupied,
            "order_id": None if self._order is None else self._order.order_id,
        }

    def describe(self) -> dict[str, Any]:
        """For `edge-agent status`: the parking order, as last made durable."""
        order = self._order
        return {
            "order": None
            if order is None
            else {"order_id": order.order_id, "phase": order.phase, "started_at": order.started_at}
        }

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": SNAPSHOT_VERSION,
            "order": None if self._order is None else asdict(self._order),
            "timer_seq": self._lock.timer_seq,
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any], move_timeout_s: float) -> ParkingController:
        """After a restart: the order goes on; the arm and the car are unknown until the board
        reports them, and the arm is never moved by itself. Call resume() once next."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(f"snapshot version {snapshot.get('version')!r} is not supported")
        controller = cls(move_timeout_s)
        try:
            order = snapshot["order"]
            if order is not None:
                if order["phase"] not in PHASES:
                    raise ValueError(f"unknown parking phase {order['phase']!r}")
                controller._order = ParkingOrder(**order)
            controller._lock.timer_seq = int(snapshot["timer_seq"])
        except (KeyError, TypeError, ValueError) as error:
            raise SnapshotError(f"malformed parking snapshot: {error!r}") from error
        return controller

    def resume(self, now: Now) -> list[Intent]:
        """A lower or raise that was under way waits for the board's report (and its timer):
        it ends as the arm is found, without being sent again."""
        order = self._order
        if order is not None and order.command_id is not None:
            self._lock.resume_move(DOWN if order.phase == "lowering" else UP)
        return self._take_outbox()

    # -- commands -------------------------------------------------------------------------------

    def _lower(self, command: Lower, now: Now) -> None:
        lock, order = self._lock, self._order
        if order is not None:
            self._refuse(
                command.command_id, "not_allowed", f"order {order.order_id} holds the space"
            )
        elif lock.moving or lock.position is Position.MOVING:
            self._refuse(command.command_id, "busy", "the ground lock is moving")
        elif lock.position is None:
            self._refuse(command.command_id, "busy", "the ground lock has not reported yet")
        elif lock.state == LOWERED:
            # Already down with no order (a lower whose answers were all lost, say): the
            # parking starts at once, as a raise of a raised arm ends one at once.
            self._order = ParkingOrder(command.order_id, "lowering", command.command_id)
            self._started(self._order, command.command_id, now)
        elif lock.state == RAISED or (lock.state == FAULT and lock.position is Position.RAISED):
            # From fault too, when the arm shows raised: a lower is how a repaired arm is
            # tried again (a raise needs an order).
            self._order = ParkingOrder(command.order_id, "lowering", command.command_id)
            lock.move(DOWN)
        else:
            self._refuse(command.command_id, "not_allowed", f"the ground lock is {lock.view}")

    def _raise(self, command: Raise, now: Now) -> None:
        lock, order = self._lock, self._order
        if order is None:
            self._refuse(command.command_id, "not_allowed", "no order holds the space")
        elif order.order_id != command.order_id:
            detail = f"order mismatch: order {order.order_id} holds the space"
            self._refuse(command.command_id, "not_allowed", detail)
        elif order.phase != "parked" or lock.moving or lock.position is Position.MOVING:
            self._refuse(command.command_id, "busy", "the ground lock is moving")
        elif lock.occupied is True:
            self._refuse(command.command_id, "not_allowed", "a car is over the lock")
        elif lock.occupied is None:
            detail = "the occupancy sensor cannot tell whether a car is over the lock"
            self._refuse(command.command_id, "not_allowed", detail)
        elif lock.position is None:
            self._refuse(command.command_id, "busy", "the ground lock has not reported yet")
        elif lock.state == RAISED:
            self._end(order, command.command_id, now)
        elif lock.state in (LOWERED, FAULT):
            order.phase, order.command_id = "raising", command.command_id
            lock.move(UP)
        else:
            self._refuse(command.command_id, "not_allowed", f"the ground lock is {lock.view}")

    # -- outcomes -------------------------------------------------------------------------------

    def _guard(self) -> None:
        """Never raise over a car: a car seen (or the sensor failing) stops a raise, which is
        refused; the parking goes on."""
        lock, order = self._lock, self._order
        sensor_failed = bool(lock.faults & GroundLockFault.OCCUPANCY_SENSOR)
        if lock.state != RAISING or not (lock.car_present is True or sensor_failed):
            return
        lock.give_up_raise()
        if order is not None and order.phase == "raising" and order.command_id is not None:
            detail = "a car came over the lock while it was rising"
            self._refuse(order.command_id, "not_allowed", detail)
            order.phase, order.command_id = "parked", None

    def _advance(self, now: Now) -> None:
        order, lock = self._order, self._lock
        if order is None or order.command_id is None or lock.outcome is None:
            return
        command_id, outcome = order.command_id, lock.outcome
        lock.outcome = None
        order.command_id = None
        if order.phase == "lowering":
            if outcome is Outcome.REACHED:
                self._started(order, command_id, now)
            else:
                self._order = None
                self._fail(command_id, outcome)
        elif outcome is Outcome.REACHED:
            self._end(order, command_id, now)
        else:
            order.phase = "parked"
            self._fail(command_id, outcome)

    def _started(self, order: ParkingOrder, command_id: str, now: Now) -> None:
        order.phase, order.started_mono, order.started_at = "parked", now.mono, now.wall
        order.command_id = None
        self._outbox.append(WriteRecord("parking_started", {"order_id": order.order_id}))
        self._reply(command_id, "ok", result={"order_id": order.order_id, "lock": LOWERED})

    def _end(self, order: ParkingOrder, command_id: str, now: Now) -> None:
        assert order.started_mono is not None
        fields = {
            "order_id": order.order_id,
            "started_at": order.started_at,
            "ended_at": now.wall,
            "duration_s": max(0, math.floor(now.mono - order.started_mono)),
        }
        self._order = None
        self._outbox.append(WriteRecord("parking_ended", fields))
        self._reply(command_id, "ok", result=copy.deepcopy(fields))

    def _fail(self, command_id: str, outcome: Outcome) -> None:
        lock = self._lock
        status: ReplyStatus = "rejected" if outcome is Outcome.REFUSED else "failed"
        self._reply(command_id, status, lock.code, lock.reason)

    def _refuse(self, command_id: str, code: str, detail: str) -> None:
        self._reply(command_id, "rejected", code, detail)

    def _reply(
        self,
        command_id: str,
        status: ReplyStatus,
        code: str | None = None,
        detail: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        self._outbox.append(Reply(command_id, status, code, detail, result))

    def _take_outbox(self) -> list[Intent]:
        intents = self._outbox.copy()
        self._outbox.clear()
        return intents
