"""Random walks over the parking controller against a simulated ground lock.

The simulated board carries out RAISE and LOWER (or times out, refuses, or stalls the motor),
refuses RAISE with a car over it, moves the arm when the test says so, and queues its events
until they are fetched. Cars come and go, the occupancy sensor fails and recovers, and the agent
crashes and is restored from its JSON snapshot.

Checked after every step: no RaiseLock while the controller was last told of a car, or could
not know (sensor fault, nothing reported); nothing moves the arm after a restart by itself;
`parking_started` only once the board reported the arm lowered, `parking_ended` only once it
reported it raised, paired per order, one order at a time; the telemetry `lock` is the last
position reported, or fault, or unknown; a command gets at most one reply. At the end, once
everything has run out, every command has exactly one reply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from vehicle_driver import wall

from edge.clock import Now
from edge.commands import FailureCode
from edge.intents import CancelTimer, Intent, RaiseEvent, Reply, StartTimer, TimerFired, WriteRecord
from edge.parking.controller import ParkingController
from edge.parking.inputs import (
    Command,
    GroundLockFaultChanged,
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
    Report,
)
from edge.parking.intents import LowerLock, RaiseLock
from edge.parking.records import ParkingEnded, ParkingStarted
from firmware_protocol.slotboard import GroundLockFault, Position

MOVE_TIMEOUT_S = 10.0
SENSOR = GroundLockFault.OCCUPANCY_SENSOR
STALL = GroundLockFault.MOTOR_STALL
NO_FAULT = GroundLockFault(0)


def mostly(usual: Any, *rare: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([usual, usual, usual, *rare])


@dataclass
class Board:
    position: Position = Position.RAISED
    target: Position = Position.RAISED
    car: bool = False
    faults: GroundLockFault = NO_FAULT
    queue: list[Report] = field(default_factory=list)
    line: list[Intent] = field(default_factory=list)

    def move_to(self, position: Position) -> None:
        if position is not self.position:
            self.position = position
            self.queue.append(PositionChanged(position))

    def set_faults(self, faults: GroundLockFault) -> None:
        if faults != self.faults:
            self.faults = faults
            self.queue.append(GroundLockFaultChanged(faults))

    def status(self) -> LockStatus:
        return LockStatus(self.position, self.car, self.faults)


@dataclass
class Told:
    """What the controller has been told by the board, as the adapter fed it."""

    position: Position | None = None
    car: bool | None = None
    faults: GroundLockFault = NO_FAULT

    def car_may_be_there(self) -> bool:
        return self.car is not False or bool(self.faults & SENSOR)


class ParkingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.controller = ParkingController(MOVE_TIMEOUT_S)
        self.mono = 0.0
        self.board = Board()
        self.told = Told()
        self.timers: dict[str, float] = {}
        self.commands: dict[str, Command] = {}
        self.replies: dict[str, Reply] = {}
        self.parked: str | None = None  # the order between its two records
        self.ended: set[str] = set()
        self.orders = 0
        self.feed(self.board.status())

    @property
    def now(self) -> Now:
        return Now(self.mono, wall(self.mono), True)

    def feed(self, event_: ParkingInput) -> None:
        match event_:
            case LockStatus(position=position, car_present=car, faults=faults):
                self.told.position, self.told.car, self.told.faults = position, car, faults
            case (
                PositionChanged(position=position)
                | RaiseDone(position=position)
                | LowerDone(position=position)
            ):
                self.told.position = position
            case OccupancyChanged(car_present=car):
                self.told.car = car
            case GroundLockFaultChanged(faults=faults):
                self.told.faults = faults
        self.mono += 0.01
        self.carry_out(self.controller.handle(event_, self.now))

    def carry_out(self, intents: list[Intent]) -> None:
        for intent in intents:
            match intent:
                case RaiseLock():
                    assert not self.told.car_may_be_there(), "raising over a car"
                    self.board.line.append(intent)
                case LowerLock():
                    self.board.line.append(intent)
                case StartTimer(name=name, seconds=seconds):
                    assert name not in self.timers
                    self.timers[name] = self.mono + seconds
                case CancelTimer(name=name):
                    del self.timers[name]
                case Reply():
                    assert intent.command_id in self.commands, "a reply for no command"
                    assert intent.command_id not in self.replies, "a second reply"
                    self.replies[intent.command_id] = intent
                    command = type(self.commands[intent.command_id]).__name__
                    event(f"reply {command} {intent.status} {intent.code}")
                case WriteRecord(record=ParkingStarted() as started):
                    event("record parking_started")
                    assert self.told.position is Position.LOWERED
                    assert self.parked is None
                    assert started.order_id not in self.ended
                    self.parked = started.order_id
                case WriteRecord(record=ParkingEnded() as ended):
                    event("record parking_ended")
                    assert self.told.position is Position.RAISED
                    assert ended.order_id == self.parked
                    assert ended.duration_s >= 0
                    self.ended.add(ended.order_id)
                    self.parked = None
                case RaiseEvent(event=raised):
                    event(f"event {raised.event_type}")

    def command(self, command: Command) -> None:
        self.commands[command.command_id] = command
        self.feed(command)

    def new_id(self) -> str:
        return f"cmd-{len(self.commands) + 1}"

    def deliver(self) -> None:
        while self.board.queue:
            self.feed(self.board.queue.pop(0))

    # -- rules ----------------------------------------------------------------------------------

    @rule()
    def lower(self) -> None:
        self.orders += 1
        self.command(Lower(self.new_id(), f"order-{self.orders}"))

    @rule(valid=mostly(True, False))
    def raise_(self, valid: bool) -> None:
        order = self.parked or "order-none"
        self.command(Raise(self.new_id(), order if valid else "order-other"))

    @precondition(lambda self: self.parked is not None)
    @rule()
    def driver_leaves(self) -> None:
        """The car leaves and the driver ends the parking."""
        if self.board.car:
            self.board.car = False
            self.board.queue.append(OccupancyChanged(False))
        self.deliver()
        if self.parked is not None:
            self.command(Raise(self.new_id(), self.parked))

    @precondition(lambda self: bool(self.board.line))
    @rule(outcome=mostly("obey", "obey", "timeout", "refuse"))
    def line_carries_out(self, outcome: str) -> None:
        self.carry_out_request(self.board.line.pop(0), outcome)

    def carry_out_request(self, request: Intent, outcome: str) -> None:
        board = self.board
        up = isinstance(request, RaiseLock)
        target = Position.RAISED if up else Position.LOWERED
        if outcome in ("timeout", "refuse"):
            timeout = outcome == "timeout"
            code = FailureCode.HARDWARE_TIMEOUT if timeout else FailureCode.HARDWARE_FAULT
            self.feed(RaiseFailed(code) if up else LowerFailed(code))
        elif up and board.car:
            self.feed(RaiseFailed("occupied"))
        elif board.position is target:
            self.feed(RaiseDone(target) if up else LowerDone(target))
        else:
            board.target = target
            self.feed(RaiseDone(Position.MOVING) if up else LowerDone(Position.MOVING))
            board.move_to(Position.MOVING)

    @precondition(lambda self: self.board.position is Position.MOVING)
    @rule(stall=mostly(False, True))
    def arm_stops(self, stall: bool) -> None:
        board = self.board
        if stall and board.target is Position.RAISED:
            board.set_faults(board.faults | STALL)
            board.move_to(Position.LOWERED)  # the board lowers a stalled arm again
        else:
            board.move_to(board.target)
            board.set_faults(board.faults & ~STALL)

    @precondition(lambda self: bool(self.board.line))
    @rule()
    def board_works_smoothly(self) -> None:
        """Every request obeyed, the arm reaches its limit, the events are fetched."""
        while self.board.line:
            self.carry_out_request(self.board.line.pop(0), "obey")
            if self.board.position is Position.MOVING:
                self.board.move_to(self.board.target)
            self.deliver()

    @rule(present=mostly(False, True))
    def car(self, present: bool) -> None:
        board = self.board
        if present != board.car and (not present or board.position is not Position.RAISED):
            board.car = present
            board.queue.append(OccupancyChanged(present))

    @rule(failed=mostly(False, True))
    def occupancy_sensor(self, failed: bool) -> None:
        board = self.board
        board.set_faults(board.faults | SENSOR if failed else board.faults & ~SENSOR)

    @rule()
    def board_reports(self) -> None:
        self.deliver()

    @rule()
    def status_poll(self) -> None:
        self.deliver()
        self.feed(self.board.status())

    @precondition(lambda self: bool(self.timers))
    @rule(data=st.data())
    def timer_runs_out(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.timers)))
        self.mono = max(self.mono, self.timers.pop(name))
        self.feed(TimerFired(name))

    @rule(seconds=st.sampled_from([1, 60, 3600]))
    def wait(self, seconds: int) -> None:
        self.mono += seconds

    @rule(read_at_once=st.booleans())
    def crash_and_restart(self, read_at_once: bool) -> None:
        snapshot = json.loads(self.controller.snapshot().model_dump_json())
        self.controller = ParkingController.restore(snapshot, MOVE_TIMEOUT_S)
        self.board.line.clear()
        self.timers.clear()
        self.told = Told()
        resumed = self.controller.resume(self.now)
        assert not any(isinstance(intent, RaiseLock | LowerLock) for intent in resumed)
        self.carry_out(resumed)
        self.board.queue.clear()
        if read_at_once:
            self.feed(self.board.status())

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def reports_only_what_the_board_said(self) -> None:
        view = self.controller.view()
        told = self.told.position
        shown = "unknown" if told in (None, Position.UNKNOWN) else told.name.lower()  # type: ignore[union-attr]
        assert view.lock in (shown, "fault")
        assert view.occupied == (None if self.told.faults & SENSOR else self.told.car)
        if self.parked is not None:
            assert view.order_id == self.parked

    def teardown(self) -> None:
        for _ in range(40):
            self.deliver()
            if self.board.line:
                self.carry_out_request(self.board.line.pop(0), "obey")
            elif self.board.position is Position.MOVING:
                self.board.move_to(self.board.target)
            elif self.timers:
                name = min(self.timers, key=self.timers.__getitem__)
                self.mono = max(self.mono, self.timers.pop(name))
                self.feed(TimerFired(name))
            elif not self.board.queue:
                break
        assert self.timers == {}
        assert set(self.replies) == set(self.commands)


ParkingMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
TestParkingMachine = ParkingMachine.TestCase
