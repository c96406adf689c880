"""The parking controller through its public interface: events in, intents out."""

from __future__ import annotations

import json
from typing import TypeVar

import pytest
from vehicle_harness import wall

from edge.parking.controller import ParkingController, SnapshotError
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
from edge.parking.intents import (
    CancelTimer,
    Event,
    Intent,
    LowerLock,
    RaiseLock,
    Reply,
    StartTimer,
    WriteRecord,
)
from firmware_protocol.slotboard import GroundLockFault, Position

MOVE_TIMEOUT_S = 10.0
RAISED, LOWERED, MOVING = Position.RAISED, Position.LOWERED, Position.MOVING
NO_FAULT = GroundLockFault(0)
T = TypeVar("T")


def of_type(intents: list[Intent], kind: type[T]) -> list[T]:
    return [intent for intent in intents if isinstance(intent, kind)]


class Space:
    def __init__(self, position: Position | None = RAISED, car: bool = False) -> None:
        self.controller = ParkingController(MOVE_TIMEOUT_S)
        self.mono = 500.0
        if position is not None:
            self.send(LockStatus(position, car, NO_FAULT))

    @property
    def now(self) -> Now:
        return Now(self.mono, wall(self.mono), True)

    def send(self, event: ParkingEvent) -> list[Intent]:
        return self.controller.handle(event, self.now)

    def reply(self, event: ParkingEvent) -> Reply:
        (reply,) = of_type(self.send(event), Reply)
        return reply

    def park(self, order_id: str = "order-1") -> None:
        self.send(Lower("c-lower", order_id))
        self.send(LowerDone(MOVING))
        self.send(PositionChanged(MOVING))
        self.send(PositionChanged(LOWERED))

    def restart(self) -> list[Intent]:
        snapshot = json.loads(json.dumps(self.controller.snapshot()))
        self.controller = ParkingController.restore(snapshot, MOVE_TIMEOUT_S)
        return self.controller.resume(self.now)


def test_lower_then_raise_with_records_on_confirmation() -> None:
    space = Space()
    assert space.controller.view() == {"lock": "raised", "occupied": False, "order_id": None}
    assert space.send(Lower("c1", "order-1")) == [LowerLock(), StartTimer("move:1", MOVE_TIMEOUT_S)]
    assert space.controller.view()["lock"] == "raised"  # nothing confirmed yet
    assert space.send(LowerDone(MOVING)) == []
    assert space.controller.view()["lock"] == "moving"
    space.mono += 3
    started_at = space.now.wall
    assert space.send(PositionChanged(LOWERED)) == [
        CancelTimer("move:1"),
        WriteRecord("parking_started", {"order_id": "order-1"}),
        Reply("c1", "ok", result={"order_id": "order-1", "lock": "lowered"}),
    ]
    assert space.controller.view() == {"lock": "lowered", "occupied": False, "order_id": "order-1"}
    space.send(OccupancyChanged(True))
    refused = space.reply(Raise("c2", "order-1"))
    assert (refused.status, refused.code, refused.detail) == (
        "rejected",
        "not_allowed",
        "a car is over the lock",
    )
    space.mono += 3600.7
    space.send(OccupancyChanged(False))
    assert space.send(Raise("c3", "order-1")) == [RaiseLock(), StartTimer("move:2", MOVE_TIMEOUT_S)]
    space.send(RaiseDone(MOVING))
    ended = space.send(PositionChanged(RAISED))
    fields = {
        "order_id": "order-1",
        "started_at": started_at,
        "ended_at": space.now.wall,
        "duration_s": 3600,
    }
    assert ended == [
        CancelTimer("move:2"),
        WriteRecord("parking_ended", fields),
        Reply("c3", "ok", result=fields),
    ]
    assert space.controller.view() == {"lock": "raised", "occupied": False, "order_id": None}


def test_lower_refusals() -> None:
    assert Space(position=None).reply(Lower("c1", "o")).code == "busy"
    # An arm already down with no order (its lower's answers were lost): the parking starts.
    down = Space(position=LOWERED)
    started = down.reply(Lower("c1", "o"))
    assert (started.status, started.result) == ("ok", {"order_id": "o", "lock": "lowered"})
    assert down.controller.view()["order_id"] == "o"
    space = Space()
    space.send(Lower("c1", "order-1"))
    moving = space.reply(Lower("c2", "order-2"))
    assert (moving.code, moving.detail) == ("not_allowed", "order order-1 holds the space")
    space.send(PositionChanged(LOWERED))
    assert space.reply(Lower("c3", "order-2")).code == "not_allowed"


def test_raise_refusals() -> None:
    space = Space()
    assert space.reply(Raise("c1", "order-1")).detail == "no order holds the space"
    space.park()
    wrong = space.reply(Raise("c2", "order-2"))
    assert wrong.detail == "order mismatch: order order-1 holds the space"
    space.send(GroundLockFaultChanged(GroundLockFault.OCCUPANCY_SENSOR))
    assert space.controller.view()["occupied"] is None
    blind = space.reply(Raise("c3", "order-1"))
    assert (blind.code, blind.detail) == (
        "not_allowed",
        "the occupancy sensor cannot tell whether a car is over the lock",
    )
    space.send(GroundLockFaultChanged(NO_FAULT))
    assert of_type(space.send(Raise("c4", "order-1")), RaiseLock) == [RaiseLock()]
    assert space.reply(Raise("c5", "order-1")).code == "busy"


def test_a_car_arriving_while_the_arm_rises_sends_it_down() -> None:
    space = Space()
    space.park()
    space.send(Raise("c1", "order-1"))
    space.send(RaiseDone(MOVING))
    intents = space.send(OccupancyChanged(True))
    assert intents == [
        CancelTimer("move:2"),
        LowerLock(),
        StartTimer("move:3", MOVE_TIMEOUT_S),
        Reply(
            "c1",
            "rejected",
            "not_allowed",
            "a car came over the lock while it was rising",
        ),
    ]
    assert space.send(PositionChanged(LOWERED)) == [CancelTimer("move:3")]
    assert space.controller.view() == {"lock": "lowered", "occupied": True, "order_id": "order-1"}


def test_the_board_refusing_a_raise_for_a_car() -> None:
    space = Space()
    space.park()
    space.send(Raise("c1", "order-1"))
    refused = space.send(RaiseFailed("occupied"))
    assert refused == [
        CancelTimer("move:2"),
        Reply("c1", "rejected", "not_allowed", "a car is over the lock"),
    ]
    assert space.controller.view()["lock"] == "lowered"


def test_a_lower_that_times_out_faults_and_ends_the_order() -> None:
    space = Space()
    space.send(Lower("c1", "order-1"))
    space.mono += MOVE_TIMEOUT_S
    intents = space.send(TimerFired("move:1"))
    assert intents == [
        Event(
            "ground_lock_fault",
            {
                "reason": "the arm did not reach its limit within 10 s",
                "position": "raised",
                "faults": [],
            },
        ),
        Reply(
            "c1",
            "failed",
            "hardware_timeout",
            "the arm did not reach its limit within 10 s",
        ),
    ]
    assert space.controller.view() == {"lock": "fault", "occupied": False, "order_id": None}
    assert space.send(LockStatus(RAISED, False, NO_FAULT)) == [
        Event("ground_lock_fault_cleared", {})
    ]
    assert space.controller.view()["lock"] == "raised"


def test_a_lower_the_board_refuses() -> None:
    space = Space()
    space.send(Lower("c1", "order-1"))
    reply = space.reply(LowerFailed("hardware_fault"))
    assert (reply.status, reply.code) == ("failed", "hardware_fault")
    assert space.controller.view()["order_id"] is None


def test_a_stalled_raise_fails_and_a_later_raise_may_succeed() -> None:
    space = Space()
    space.park()
    space.send(Raise("c1", "order-1"))
    space.send(RaiseDone(MOVING))
    stalled = space.send(GroundLockFaultChanged(GroundLockFault.MOTOR_STALL))
    assert Event("ground_lock_faults", {"faults": ["motor_stall"]}) in stalled
    reply = of_type(stalled, Reply)[0]
    assert (reply.status, reply.code) == ("failed", "hardware_fault")
    space.send(PositionChanged(LOWERED))
    assert space.controller.view() == {"lock": "fault", "occupied": False, "order_id": "order-1"}
    assert of_type(space.send(Raise("c2", "order-1")), RaiseLock) == [RaiseLock()]
    space.send(GroundLockFaultChanged(NO_FAULT))
    records = of_type(space.send(PositionChanged(RAISED)), WriteRecord)
    assert [record.type for record in records] == ["parking_ended"]


def test_an_arm_ending_at_the_other_limit_fails_the_move() -> None:
    space = Space()
    space.park()
    space.send(Raise("c1", "order-1"))
    assert space.send(PositionChanged(LOWERED)) == []  # a report from before the raise
    space.send(RaiseDone(MOVING))
    reply = space.reply(PositionChanged(LOWERED))
    assert (reply.code, reply.detail) == ("hardware_fault", "the arm ended lowered")


def test_a_raise_of_an_arm_already_up_ends_the_parking() -> None:
    space = Space()
    space.park()
    space.send(Raise("c1", "order-1"))
    space.send(TimerFired("move:2"))  # timed out: failed, still parked
    space.send(PositionChanged(RAISED))  # it got there after all
    intents = space.send(Raise("c2", "order-1"))
    assert of_type(intents, RaiseLock) == []
    assert [record.type for record in of_type(intents, WriteRecord)] == ["parking_ended"]


def test_after_a_restart_the_arm_is_unknown_and_never_moved() -> None:
    space = Space()
    space.park()
    assert space.restart() == []
    assert space.controller.view() == {"lock": "unknown", "occupied": None, "order_id": "order-1"}
    assert space.reply(Raise("c1", "order-1")).code == "not_allowed"  # the car is unknown
    space.send(LockStatus(LOWERED, False, NO_FAULT))
    assert of_type(space.send(Raise("c2", "order-1")), RaiseLock) == [RaiseLock()]


def test_a_lower_in_flight_at_a_crash_ends_as_the_arm_is_found() -> None:
    space = Space()
    space.send(Lower("c1", "order-1"))
    resumed = space.restart()
    assert resumed == [StartTimer("move:2", MOVE_TIMEOUT_S)]
    intents = space.send(LockStatus(LOWERED, False, NO_FAULT))
    assert of_type(intents, WriteRecord) == [
        WriteRecord("parking_started", {"order_id": "order-1"})
    ]
    assert of_type(intents, Reply)[0].status == "ok"


def test_a_raise_in_flight_at_a_crash_that_never_happened_fails() -> None:
    space = Space()
    space.park()
    space.send(Raise("c1", "order-1"))
    space.restart()
    intents = space.send(LockStatus(LOWERED, False, NO_FAULT))
    assert of_type(intents, RaiseLock | LowerLock) == []  # type: ignore[arg-type]
    reply = of_type(intents, Reply)[0]
    assert (reply.status, reply.code) == ("failed", "hardware_fault")
    assert space.controller.view()["order_id"] == "order-1"


def test_restore_refuses_a_malformed_snapshot() -> None:
    snapshot = Space().controller.snapshot()
    with pytest.raises(SnapshotError):
        ParkingController.restore({**snapshot, "version": 2}, MOVE_TIMEOUT_S)
    bad_order = {"order_id": "o", "phase": "flying", "command_id": None}
    with pytest.raises(SnapshotError):
        ParkingController.restore({**snapshot, "order": bad_order}, MOVE_TIMEOUT_S)


def test_a_lower_tries_a_repaired_arm_again_from_fault() -> None:
    # A stalled arm back at the top: no order, so only a lower can try it again.
    space = Space()
    space.send(LockStatus(RAISED, False, GroundLockFault.MOTOR_STALL))
    assert space.controller.view()["lock"] == "fault"
    retried = space.send(Lower("c1", "order-1"))
    assert LowerLock() in retried
    assert StartTimer("move:1", MOVE_TIMEOUT_S) in retried
    space.send(LowerDone(MOVING))
    space.send(GroundLockFaultChanged(NO_FAULT))
    started = of_type(space.send(PositionChanged(LOWERED)), Reply)
    assert [(r.command_id, r.status) for r in started] == [("c1", "ok")]
    assert space.controller.view() == {"lock": "lowered", "occupied": False, "order_id": "order-1"}
