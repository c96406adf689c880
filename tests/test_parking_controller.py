"""The parking controller through its public interface: inputs in, intents out."""

from __future__ import annotations

import json
from typing import TypeVar

import pytest
from pydantic import JsonValue
from vehicle_driver import wall

from edge.clock import Now
from edge.commands import FailureCode, RejectCode
from edge.controller import SnapshotError as BaseSnapshotError
from edge.intents import CancelTimer, Intent, RaiseEvent, Reply, StartTimer, TimerFired, WriteRecord
from edge.parking.controller import ParkingController, SnapshotError
from edge.parking.events import GroundLockFault as GroundLockFaultEvent
from edge.parking.events import GroundLockFaultCleared, GroundLockFaults
from edge.parking.inputs import (
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
)
from edge.parking.intents import LowerLock, RaiseLock
from edge.parking.records import ParkingEnded, ParkingStarted
from edge.parking.results import LowerResult
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

    def send(self, event: ParkingInput) -> list[Intent]:
        return self.controller.handle(event, self.now)

    def reply(self, event: ParkingInput) -> Reply:
        (reply,) = of_type(self.send(event), Reply)
        return reply

    def park(self, order_id: str = "order-1") -> None:
        self.send(Lower("c-lower", order_id))
        self.send(LowerDone(MOVING))
        self.send(PositionChanged(MOVING))
        self.send(PositionChanged(LOWERED))

    def restart(self) -> list[Intent]:
        snapshot = json.loads(self.controller.snapshot().model_dump_json())
        self.controller = ParkingController.restore(snapshot, MOVE_TIMEOUT_S)
        return self.controller.resume(self.now)


def test_lower_then_raise_with_records_on_confirmation() -> None:
    space = Space()
    assert space.controller.view().model_dump() == {
        "lock": "raised",
        "occupied": False,
        "order_id": None,
    }
    assert space.send(Lower("c1", "order-1")) == [LowerLock(), StartTimer("move:1", MOVE_TIMEOUT_S)]
    assert space.controller.view().lock == "raised"  # nothing confirmed yet
    assert space.send(LowerDone(MOVING)) == []
    assert space.controller.view().lock == "moving"
    space.mono += 3
    started_at = space.now.wall
    assert space.send(PositionChanged(LOWERED)) == [
        CancelTimer("move:1"),
        WriteRecord(ParkingStarted(order_id="order-1")),
        Reply("c1", "ok", result=LowerResult(order_id="order-1", lock="lowered")),
    ]
    assert space.controller.view().model_dump() == {
        "lock": "lowered",
        "occupied": False,
        "order_id": "order-1",
    }
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
        WriteRecord(ParkingEnded.model_validate(fields)),
        Reply("c3", "ok", result=ParkingEnded.model_validate(fields)),
    ]
    assert space.controller.view().model_dump() == {
        "lock": "raised",
        "occupied": False,
        "order_id": None,
    }


def test_lower_refusals() -> None:
    assert Space(position=None).reply(Lower("c1", "o")).code == "busy"
    # An arm already down with no order (its lower's answers were lost): the parking starts.
    down = Space(position=LOWERED)
    started = down.reply(Lower("c1", "o"))
    assert (started.status, started.result) == ("ok", LowerResult(order_id="o", lock="lowered"))
    assert down.controller.view().order_id == "o"
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
    assert space.controller.view().occupied is None
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
            RejectCode.NOT_ALLOWED,
            "a car came over the lock while it was rising",
        ),
    ]
    assert space.send(PositionChanged(LOWERED)) == [CancelTimer("move:3")]
    assert space.controller.view().model_dump() == {
        "lock": "lowered",
        "occupied": True,
        "order_id": "order-1",
    }


def test_the_board_refusing_a_raise_for_a_car() -> None:
    space = Space()
    space.park()
    space.send(Raise("c1", "order-1"))
    refused = space.send(RaiseFailed("occupied"))
    assert refused == [
        CancelTimer("move:2"),
        Reply("c1", "rejected", RejectCode.NOT_ALLOWED, "a car is over the lock"),
    ]
    assert space.controller.view().lock == "lowered"


def test_a_lower_that_times_out_faults_and_ends_the_order() -> None:
    space = Space()
    space.send(Lower("c1", "order-1"))
    space.mono += MOVE_TIMEOUT_S
    intents = space.send(TimerFired("move:1"))
    assert intents == [
        RaiseEvent(
            GroundLockFaultEvent(
                reason="the arm did not reach its limit within 10 s",
                position="raised",
                faults=[],
            )
        ),
        Reply(
            "c1",
            "failed",
            FailureCode.HARDWARE_TIMEOUT,
            "the arm did not reach its limit within 10 s",
        ),
    ]
    assert space.controller.view().model_dump() == {
        "lock": "fault",
        "occupied": False,
        "order_id": None,
    }
    assert space.send(LockStatus(RAISED, False, NO_FAULT)) == [RaiseEvent(GroundLockFaultCleared())]
    assert space.controller.view().lock == "raised"


def test_a_lower_the_board_refuses() -> None:
    space = Space()
    space.send(Lower("c1", "order-1"))
    reply = space.reply(LowerFailed(FailureCode.HARDWARE_FAULT))
    assert (reply.status, reply.code) == ("failed", "hardware_fault")
    assert space.controller.view().order_id is None


def test_a_stalled_raise_fails_and_a_later_raise_may_succeed() -> None:
    space = Space()
    space.park()
    space.send(Raise("c1", "order-1"))
    space.send(RaiseDone(MOVING))
    stalled = space.send(GroundLockFaultChanged(GroundLockFault.MOTOR_STALL))
    assert RaiseEvent(GroundLockFaults(faults=["motor_stall"])) in stalled
    reply = of_type(stalled, Reply)[0]
    assert (reply.status, reply.code) == ("failed", "hardware_fault")
    space.send(PositionChanged(LOWERED))
    assert space.controller.view().model_dump() == {
        "lock": "fault",
        "occupied": False,
        "order_id": "order-1",
    }
    assert of_type(space.send(Raise("c2", "order-1")), RaiseLock) == [RaiseLock()]
    space.send(GroundLockFaultChanged(NO_FAULT))
    records = of_type(space.send(PositionChanged(RAISED)), WriteRecord)
    assert [record.record.record_type for record in records] == ["parking_ended"]


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
    assert [record.record.record_type for record in of_type(intents, WriteRecord)] == [
        "parking_ended"
    ]


def test_after_a_restart_the_arm_is_unknown_and_never_moved() -> None:
    space = Space()
    space.park()
    assert space.restart() == []
    assert space.controller.view().model_dump() == {
        "lock": "unknown",
        "occupied": None,
        "order_id": "order-1",
    }
    assert space.reply(Raise("c1", "order-1")).code == "not_allowed"  # the car is unknown
    space.send(LockStatus(LOWERED, False, NO_FAULT))
    assert of_type(space.send(Raise("c2", "order-1")), RaiseLock) == [RaiseLock()]


def test_a_lower_in_flight_at_a_crash_ends_as_the_arm_is_found() -> None:
    space = Space()
    space.send(Lower("c1", "order-1"))
    resumed = space.restart()
    assert resumed == [StartTimer("move:2", MOVE_TIMEOUT_S)]
    intents = space.send(LockStatus(LOWERED, False, NO_FAULT))
    assert of_type(intents, WriteRecord) == [WriteRecord(ParkingStarted(order_id="order-1"))]
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
    assert space.controller.view().order_id == "order-1"


def test_restore_refuses_a_malformed_snapshot() -> None:
    snapshot = Space().controller.snapshot().model_dump(mode="json")
    with pytest.raises(SnapshotError):
        ParkingController.restore({**snapshot, "version": 2}, MOVE_TIMEOUT_S)
    bad_order: JsonValue = {"order_id": "o", "phase": "flying", "command_id": None}
    with pytest.raises(SnapshotError):
        ParkingController.restore({**snapshot, "order": bad_order}, MOVE_TIMEOUT_S)


def test_a_lower_tries_a_repaired_arm_again_from_fault() -> None:
    # A stalled arm back at the top: no order, so only a lower can try it again.
    space = Space()
    space.send(LockStatus(RAISED, False, GroundLockFault.MOTOR_STALL))
    assert space.controller.view().lock == "fault"
    retried = space.send(Lower("c1", "order-1"))
    assert LowerLock() in retried
    assert StartTimer("move:1", MOVE_TIMEOUT_S) in retried
    space.send(LowerDone(MOVING))
    space.send(GroundLockFaultChanged(NO_FAULT))
    started = of_type(space.send(PositionChanged(LOWERED)), Reply)
    assert [(r.command_id, r.status) for r in started] == [("c1", "ok")]
    assert space.controller.view().model_dump() == {
        "lock": "lowered",
        "occupied": False,
        "order_id": "order-1",
    }


# -- the snapshot as the store keeps it -------------------------------------------------------

# Written by the controller before its snapshot became a pydantic model (json.dumps of the dict
# it returned): a box upgraded in the field restores exactly these.
OLD_SNAPSHOTS = [
    '{"version": 1, "order": null, "timer_seq": 0}',
    '{"version": 1, "order": {"order_id": "order-1", "phase": "lowering", "command_id": '
    '"c-lower", "started_mono": null, "started_at": null}, "timer_seq": 1}',
    '{"version": 1, "order": {"order_id": "order-1", "phase": "parked", "command_id": null, '
    '"started_mono": 503.25, "started_at": "2026-11-23T18:08:23.250Z"}, "timer_seq": 1}',
    '{"version": 1, "order": {"order_id": "order-1", "phase": "raising", "command_id": '
    '"c-raise", "started_mono": 503.25, "started_at": "2026-11-23T18:08:23.250Z"}, '
    '"timer_seq": 2}',
]


@pytest.mark.parametrize("saved", OLD_SNAPSHOTS)
def test_a_snapshot_from_before_restores_and_is_written_back_the_same(saved: str) -> None:
    controller = ParkingController.restore(json.loads(saved), MOVE_TIMEOUT_S)
    assert controller.snapshot().model_dump(mode="json") == json.loads(saved)
    # the same keys in the same order, the same value types
    assert json.dumps(controller.snapshot().model_dump(mode="json")) == saved


def test_the_snapshot_of_each_phase_round_trips() -> None:
    space = Space()
    seen = [space.controller.snapshot()]
    space.send(Lower("c-lower", "order-1"))
    seen.append(space.controller.snapshot())
    space.send(PositionChanged(LOWERED))
    seen.append(space.controller.snapshot())
    space.send(Raise("c-raise", "order-1"))
    seen.append(space.controller.snapshot())
    for snapshot in seen:
        saved = json.loads(snapshot.model_dump_json())
        restored = ParkingController.restore(saved, MOVE_TIMEOUT_S)
        assert restored.snapshot() == snapshot


def test_what_status_shows_is_as_before() -> None:
    parked = ParkingController.restore(json.loads(OLD_SNAPSHOTS[2]), MOVE_TIMEOUT_S)
    assert parked.describe().model_dump(mode="json") == {
        "order": {
            "order_id": "order-1",
            "phase": "parked",
            "started_at": "2026-11-23T18:08:23.250Z",
        }
    }
    assert parked.describe().status_rows() == [
        ("parking", "order order-1 parked started 2026-11-23T18:08:23.250Z")
    ]
    empty = ParkingController(MOVE_TIMEOUT_S).describe()
    assert empty.model_dump(mode="json") == {"order": None}
    assert empty.status_rows() == [("parking", "no order")]


def test_snapshot_error_is_the_shared_one() -> None:
    assert SnapshotError is BaseSnapshotError
