"""The installer grants' command types, through the pure controllers: a cabinet's test eject
of one slot, a parking space's test raise or lower, a car's lock pulse. Each writes a record
naming the grant before anything moves; each is refused where a rent, a parking or a rental
would be put at risk."""

from __future__ import annotations

import json

from cabinet_driver import LOCKED, UNLOCKED, Cabinet, of_type
from test_parking_controller import LOWERED, MOVING, RAISED, Space
from test_vehicle_controller import restarted
from vehicle_driver import RETRIES, Box

from edge.cabinet.inputs import BankRemoved, EjectDone, InstallerEject, LockChanged, Reserve
from edge.cabinet.intents import Eject
from edge.cabinet.records import BankOut, InstallerEjected
from edge.commands import RejectCode
from edge.commands.table import COMMANDS, INSTALLER_TYPES
from edge.intents import Reply, StartTimer, WriteRecord
from edge.parking.inputs import (
    InstallerMove,
    LowerDone,
    OccupancyChanged,
    PositionChanged,
    RaiseDone,
)
from edge.parking.intents import LowerLock, RaiseLock
from edge.parking.records import InstallerMoved
from edge.parking.results import InstallerMoveResult
from edge.vehicle.inputs import InstallerLockPulse
from edge.vehicle.intents import SendCan
from edge.vehicle.records import InstallerLockPulsed
from edge.vehicle.results import LockPulseResult

GRANT = "6f1c1f4e-8d0a-4a55-9a57-3c1a2d9e0b11"
STOCK = {1: ("PB01", 85), 2: ("PB02", 100)}


def test_installer_types_are_the_small_tests_of_each_kind() -> None:
    assert {
        "vehicle": frozenset({"test_lock_pulse"}),
        "cabinet": frozenset({"test_eject"}),
        "parking": frozenset({"test_move"}),
    } == INSTALLER_TYPES
    assert all(COMMANDS[name].installer for names in INSTALLER_TYPES.values() for name in names)
    assert not COMMANDS["rent"].installer
    assert not COMMANDS["lower"].installer
    assert not COMMANDS["unlock"].installer


def test_a_test_eject_records_the_grant_first_then_its_bank_out_names_it() -> None:
    box = Cabinet(STOCK)
    intents = box.send(InstallerEject(GRANT, 2))
    record = InstallerEjected(grant_id=GRANT, slot=2, bank_id="PB02", charge_pct=100)
    assert intents.index(WriteRecord(record)) < intents.index(Eject(2))
    assert box.state(2) == "ejecting"
    box.send(EjectDone(2, LOCKED))
    (reply,) = of_type(box.send(LockChanged(2, UNLOCKED)), Reply)
    assert (reply.command_id, reply.status) == (GRANT, "ok")
    (out,) = [i.record for i in of_type(box.send(BankRemoved(2, False)), WriteRecord)]
    assert isinstance(out, BankOut)
    assert (out.grant_id, out.order_id, out.slot, out.bank_id) == (GRANT, GRANT, 2, "PB02")
    assert box.state(2) == "empty"


def test_a_test_eject_is_refused_for_an_empty_reserved_or_missing_slot() -> None:
    box = Cabinet(STOCK)
    box.send(Reserve(box.command_id(), "res-1", "rent", 1, 600))
    for slot, code, words in [
        (3, RejectCode.NOT_ALLOWED, "no bank to eject"),
        (2, RejectCode.NOT_ALLOWED, "held by reservation res-1"),
        (99, RejectCode.NOT_ALLOWED, "no slot 99"),
    ]:
        intents = box.send(InstallerEject(GRANT, slot))
        (reply,) = of_type(intents, Reply)
        assert (reply.status, reply.code) == ("rejected", code)
        assert words in (reply.detail or "")
        assert not of_type(intents, WriteRecord)
        assert not of_type(intents, Eject)


def test_a_test_eject_survives_a_restart_with_its_grant() -> None:
    box = Cabinet(STOCK)
    box.send(InstallerEject(GRANT, 1))
    box.send(EjectDone(1, UNLOCKED))
    saved = json.loads(box.controller.snapshot().model_dump_json())
    assert saved["slots"][0]["job"]["grant_id"] == GRANT


def test_a_test_raise_never_goes_up_over_a_car_nor_under_a_parking() -> None:
    space = Space(LOWERED, car=True)
    reply = space.reply(InstallerMove(GRANT, "raise"))
    assert (reply.status, reply.code, reply.detail) == (
        "rejected",
        RejectCode.NOT_ALLOWED,
        "a car is over the lock",
    )
    parked = Space()
    parked.park()
    intents = parked.send(InstallerMove(GRANT, "raise"))
    (reply,) = of_type(intents, Reply)
    assert reply.code == RejectCode.NOT_ALLOWED
    assert "holds the space" in (reply.detail or "")
    assert not of_type(intents, RaiseLock)


def test_a_test_lower_and_raise_record_the_grant_before_the_arm_moves() -> None:
    space = Space(RAISED)
    intents = space.send(InstallerMove(GRANT, "lower"))
    record = WriteRecord(InstallerMoved(grant_id=GRANT, direction="lower"))
    assert intents.index(record) < intents.index(LowerLock())
    space.send(LowerDone(MOVING))
    reply = space.reply(PositionChanged(LOWERED))
    lowered = InstallerMoveResult(direction="lower", lock="lowered")
    assert reply == Reply(GRANT, "ok", result=lowered)
    assert space.controller.view().order_id is None
    raise_id = "0d0c5b0e-1111-4a55-9a57-3c1a2d9e0b12"
    assert RaiseLock() in space.send(InstallerMove(raise_id, "raise"))
    assert space.controller.moving
    restarted = space.restart()
    assert not of_type(restarted, RaiseLock)  # waits for the board's word, never sent again
    space.send(RaiseDone(MOVING))
    reply = space.reply(PositionChanged(RAISED))
    assert (reply.command_id, reply.status) == (raise_id, "ok")


def test_a_car_arriving_during_a_test_raise_sends_the_arm_down_and_refuses_it() -> None:
    space = Space(LOWERED)
    space.send(InstallerMove(GRANT, "raise"))
    intents = space.send(OccupancyChanged(True))
    (reply,) = of_type(intents, Reply)
    assert (reply.command_id, reply.code) == (GRANT, RejectCode.NOT_ALLOWED)
    assert LowerLock() in intents


def test_a_lock_pulse_records_the_grant_then_moves_the_lock_once() -> None:
    car = Box()
    intents = car.send(InstallerLockPulse(GRANT, "unlock"))
    record = WriteRecord(InstallerLockPulsed(grant_id=GRANT, action="unlock"))
    assert intents.index(record) < intents.index(SendCan("unlock"))
    assert of_type(intents, SendCan) == [SendCan("unlock")]
    assert not of_type(intents, Reply)
    intents = car.bus(lock_state="unlocked")
    assert not of_type(intents, SendCan)  # start enable is not the pulse's business
    assert car.reply(intents) == Reply(
        GRANT, "ok", result=LockPulseResult(action="unlock", lock="unlocked")
    )
    assert (car.controller.view().lock, car.controller.view().start_enabled) == ("unlocked", False)
    relock = "0d0c5b0e-1111-4a55-9a57-3c1a2d9e0b13"
    assert of_type(car.send(InstallerLockPulse(relock, "lock")), SendCan) == [SendCan("lock")]
    assert car.reply(car.bus(lock_state="locked")).status == "ok"
    assert car.controller.view().rental == "none"


def test_a_lock_pulse_is_refused_for_a_rented_or_running_car_and_moves_nothing() -> None:
    running = Box()
    running.bus(engine_running=True)
    unknown = Box()
    unknown.bus(engine_running=None)
    booked = Box()
    booked.book("order-7")
    rented = Box()
    rented.rent("order-8")
    for car, action, words in [
        (running, "unlock", "engine running"),
        (unknown, "unlock", "engine state unknown"),
        (booked, "unlock", "the car is booked for order order-7"),
        (rented, "lock", "the car is active for order order-8"),
        (Box(), "lock", "the central lock already shows locked"),
    ]:
        intents = car.send(InstallerLockPulse(GRANT, action))  # type: ignore[arg-type]
        reply = car.reply(intents)
        assert (reply.status, reply.code) == ("rejected", RejectCode.NOT_ALLOWED)
        assert words in (reply.detail or ""), reply.detail
        assert not of_type(intents, WriteRecord)
        assert not of_type(intents, SendCan)


def test_a_lock_pulse_waits_its_turn_and_fails_when_the_lock_never_confirms() -> None:
    car = Box()
    started = car.send(InstallerLockPulse(GRANT, "unlock"))
    busy = car.reply(car.send(InstallerLockPulse("another-grant", "unlock")))
    assert (busy.code, busy.detail) == (
        RejectCode.BUSY,
        "another lock or start operation is in flight",
    )
    intents = started
    for _ in range(RETRIES):
        intents = car.fire(intents)
        assert of_type(intents, SendCan) == [SendCan("unlock")]
    intents = car.fire(intents)
    reply = car.reply(intents)
    assert (reply.command_id, reply.status, reply.code) == (GRANT, "failed", "hardware_timeout")
    assert reply.detail == "the central lock did not confirm unlocked"
    assert car.controller.view().lock == "fault"


def test_a_lock_pulse_in_flight_at_a_restart_is_answered_and_not_sent_again() -> None:
    car = Box()
    assert of_type(car.send(InstallerLockPulse(GRANT, "unlock")), StartTimer)
    restarted(car)
    assert car.controller.resume(car.now) == [
        Reply(GRANT, "failed", "hardware_fault", "interrupted by restart")
    ]
    assert not of_type(car.bus(lock_state="unlocked"), Reply)
