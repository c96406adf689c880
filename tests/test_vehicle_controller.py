"""The vehicle controller through its public interface: events in, intents out."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from vehicle_driver import PARKED, RETRIES, TARIFF, TIMEOUT_S, Box, events, of_type, result_of, wall

from edge.intents import CancelTimer, RaiseEvent, Reply, StartTimer, TimerFired, WriteRecord
from edge.vehicle.controller import SnapshotError, VehicleController
from edge.vehicle.events import (
    LockFault,
    LockFaultCleared,
    RentalEndFailed,
    ServiceChanged,
    StartEnableFault,
    StartWithdrawPending,
)
from edge.vehicle.inputs import SetService, StartRental, TroubleCodes
from edge.vehicle.intents import SendCan
from edge.vehicle.records import RentalEnded, RentalStarted
from edge.vehicle.results import LockResult, SetServiceResult, StartRentalResult, UnlockResult


def restarted(box: Box) -> Box:
    """The agent crashed and came back: the controller restored from its JSON snapshot."""
    snapshot = json.loads(box.controller.snapshot().model_dump_json())
    box.controller = VehicleController.restore(snapshot, TIMEOUT_S, RETRIES)
    return box


def test_whole_rental_with_exact_charges() -> None:
    box = Box()
    box.send(TroubleCodes(("P0420",)))
    booked = box.book()
    assert booked == Reply(
        "cmd-1",
        "ok",
        result=StartRentalResult.model_validate({"order_id": "order-1", "rental": "booked"}),
    )
    assert box.controller.view().model_dump() == {
        "lock": "locked",
        "start_enabled": False,
        "rental": "booked",
        "in_service": True,
        "lock_commanded": None,
        "start_enabled_as_commanded": False,
    }

    assert box.unlock() == [SendCan("unlock"), StartTimer("lock:1", TIMEOUT_S)]
    assert box.controller.view().lock == "locked"
    box.wait(0.4)
    started_mono = box.mono
    opened = box.bus(lock_state="unlocked")
    assert opened == [
        CancelTimer("lock:1"),
        WriteRecord(
            RentalStarted.model_validate(
                {
                    "order_id": "order-1",
                    "renter": "alice",
                    "fuel_pct": 80.0,
                    "odometer_km": 12345.6,
                    "check": {
                        "doors_closed": True,
                        "lock": "locked",
                        "ignition": False,
                        "engine_running": False,
                        "fault_codes": ["P0420"],
                    },
                },
            )
        ),
        SendCan("start_enable"),
        StartTimer("start_enable:1", TIMEOUT_S),
    ]
    assert box.controller.view().rental == "active"
    assert box.bus(start_enabled=True) == [
        CancelTimer("start_enable:1"),
        Reply(
            "cmd-2",
            "ok",
            result=UnlockResult.model_validate(
                {"lock": "unlocked", "start_enabled": True, "rental": "active"}
            ),
        ),
    ]

    box.bus(ignition=True, engine_running=True, doors_closed=False)
    box.wait(3725.3)
    box.bus(fuel_pct=62.46, odometer_km=12432.94, speed_kmh=0.0)
    box.bus(ignition=False, engine_running=False, doors_closed=True)
    ended_mono = box.mono

    assert box.end() == [SendCan("lock"), StartTimer("lock:2", TIMEOUT_S)]
    assert of_type(box.bus(lock_state="locked"), SendCan) == [SendCan("start_disable")]
    finished = box.bus(start_enabled=False)
    fields = {
        "order_id": "order-1",
        "started_at": wall(started_mono),
        "ended_at": wall(ended_mono),
        "duration_s": 3725,
        "fuel_start_pct": 80.0,
        "fuel_end_pct": 62.5,
        "odometer_start_km": 12345.6,
        "odometer_end_km": 12432.9,
        "distance_km": 87.3,
        "check": {
            "doors_closed": True,
            "lock": "locked",
            "ignition": False,
            "engine_running": False,
            "fault_codes": ["P0420"],
            "notes": [],
        },
        # 63 started minutes * 25; 50 L * 17.5 % * 789 c/L = 6903.75 -> 6904.
        "charges": {"time_cents": 1575, "fuel_cents": 6904, "total_cents": 8479, "currency": "EUR"},
    }
    assert finished == [
        CancelTimer("start_enable:2"),
        WriteRecord(RentalEnded.model_validate(fields)),
        Reply("cmd-3", "ok", result=RentalEnded.model_validate(fields)),
    ]
    assert box.controller.view().model_dump() == {
        "lock": "locked",
        "start_enabled": False,
        "rental": "none",
        "in_service": True,
        "lock_commanded": None,
        "start_enabled_as_commanded": False,
    }
    assert box.book("order-2").status == "ok"


def test_mid_rental_lock_and_unlock_do_not_restart_the_clock() -> None:
    box = Box()
    box.rent()
    locked = box.lock()
    assert of_type(locked, SendCan) == [SendCan("lock")]
    assert of_type(box.bus(lock_state="locked"), SendCan) == [SendCan("start_disable")]
    assert box.reply(box.bus(start_enabled=False)) == Reply(
        "cmd-3",
        "ok",
        result=LockResult.model_validate(
            {"lock": "locked", "start_enabled": False, "start_withdraw_pending": False}
        ),
    )
    box.unlock()
    again = box.bus(lock_state="unlocked")
    assert of_type(again, WriteRecord) == []
    assert of_type(again, SendCan) == [SendCan("start_enable")]
    assert box.reply(box.bus(start_enabled=True)).status == "ok"


def test_unlock_of_an_open_car_confirms_at_once_and_starts_the_rental() -> None:
    box = Box(replace(PARKED, lock_state="unlocked"))
    box.book()
    opened = box.unlock()
    assert [type(intent) for intent in opened] == [WriteRecord, SendCan, StartTimer]
    assert result_of(box.reply(box.bus(start_enabled=True))) == {
        "lock": "unlocked",
        "start_enabled": True,
        "rental": "active",
        "as_commanded": [],
    }


def refusal(box: Box, intents: list[Any]) -> tuple[str, str | None, str | None]:
    assert of_type(intents, SendCan) == []
    reply = box.reply(intents)
    return reply.status, reply.code, reply.detail


def test_start_rental_refusals() -> None:
    box = Box()
    out = SetService("svc", in_service=False, reason="maintenance")
    assert box.send(out) == [
        RaiseEvent(ServiceChanged.model_validate({"in_service": False, "reason": "maintenance"})),
        Reply("svc", "ok", result=SetServiceResult.model_validate({"in_service": False})),
    ]
    start = StartRental("c1", "order-1", "alice", TARIFF)
    assert refusal(box, box.send(start)) == (
        "rejected",
        "not_allowed",
        "out of service: maintenance",
    )
    assert box.controller.view().rental == "none"
    box.send(SetService("svc2", in_service=True, reason=""))
    assert box.book().status == "ok"
    assert refusal(box, box.send(StartRental("c2", "order-2", "bob", TARIFF))) == (
        "rejected",
        "not_allowed",
        "car already booked",
    )
    box.send(SetService("svc3", in_service=False, reason=""))
    assert refusal(box, box.send(StartRental("c3", "order-2", "bob", TARIFF)))[2] == (
        "out of service; car already booked"
    )


def test_start_rental_refused_while_rented_and_service_hold_applies_to_the_next() -> None:
    box = Box()
    box.rent()
    held = box.send(SetService("svc", in_service=False, reason="violation"))
    assert box.reply(held).status == "ok"
    assert box.controller.view().in_service is False
    assert refusal(box, box.send(StartRental("c9", "order-2", "bob", TARIFF)))[2] == (
        "out of service: violation; car already rented"
    )
    box.lock()
    box.bus(lock_state="locked")
    assert box.reply(box.bus(start_enabled=False)).status == "ok"


@pytest.mark.parametrize("action", ["unlock", "lock", "end"])
def test_commands_need_the_rental_order(action: str) -> None:
    box = Box()
    assert refusal(box, getattr(box, action)("order-1")) == ("rejected", "not_allowed", "no rental")
    box.book()
    assert refusal(box, getattr(box, action)("order-X")) == (
        "rejected",
        "not_allowed",
        "order mismatch",
    )
    assert box.controller.view().rental == "booked"


@pytest.mark.parametrize(
    ("engine_running", "doors_closed", "detail"),
    [
        (True, True, "engine running"),
        (False, False, "door open"),
        (True, False, "engine running; door open"),
        (None, None, "engine state unknown; door state unknown"),
        (False, None, "door state unknown"),
    ],
)
def test_end_rental_refusals(
    engine_running: bool | None, doors_closed: bool | None, detail: str
) -> None:
    box = Box()
    box.rent()
    box.bus(engine_running=engine_running, doors_closed=doors_closed)
    assert refusal(box, box.end()) == ("rejected", "not_allowed", detail)
    assert box.controller.view().rental == "active"


def test_busy_while_an_operation_is_in_flight() -> None:
    box = Box()
    box.book()
    box.unlock()
    busy = ("rejected", "busy", "another lock or start operation is in flight")
    assert refusal(box, box.lock()) == busy
    assert refusal(box, box.end()) == busy
    assert refusal(box, box.unlock()) == busy
    # The state's own rules come before busy.
    assert refusal(box, box.lock("order-X"))[1] == "not_allowed"
    # Commands that move nothing are never busy.
    assert box.reply(box.send(SetService("svc", in_service=True, reason=""))).status == "ok"
    assert box.reply(box.send(StartRental("c9", "order-2", "bob", TARIFF))).code == "not_allowed"
    box.bus(lock_state="unlocked")
    assert box.reply(box.bus(start_enabled=True)).command_id == "cmd-2"


def test_busy_while_a_deferred_withdrawal_is_under_way() -> None:
    box = Box()
    box.rent()
    box.bus(engine_running=True)
    box.lock()
    box.bus(lock_state="locked")
    assert box.bus(engine_running=False) == [
        SendCan("start_disable"),
        StartTimer("start_enable:2", TIMEOUT_S),
    ]
    assert refusal(box, box.unlock())[1] == "busy"


def test_lock_while_the_engine_runs_defers_the_withdrawal() -> None:
    box = Box()
    box.rent()
    box.bus(ignition=True, engine_running=True)
    assert of_type(box.lock(), SendCan) == [SendCan("lock")]
    locked = box.bus(lock_state="locked")
    assert of_type(locked, SendCan) == []
    assert events(locked) == [StartWithdrawPending(engine="running")]
    assert result_of(box.reply(locked)) == {
        "lock": "locked",
        "start_enabled": True,
        "start_withdraw_pending": True,
        "as_commanded": [],
    }
    assert box.controller.view().start_enabled is True
    # Unknown counts as running.
    assert box.bus(engine_running=None) == []
    assert box.bus(engine_running=True) == []
    assert box.bus(engine_running=False) == [
        SendCan("start_disable"),
        StartTimer("start_enable:2", TIMEOUT_S),
    ]
    assert box.bus(start_enabled=False) == [CancelTimer("start_enable:2")]
    assert box.controller.view().start_enabled is False


def test_unlock_cancels_a_pending_withdrawal() -> None:
    box = Box()
    box.rent()
    box.bus(engine_running=True)
    box.lock()
    box.bus(lock_state="locked")
    box.unlock()
    reopened = box.bus(lock_state="unlocked")
    assert box.reply(reopened).status == "ok"
    assert of_type(reopened, SendCan) == []
    assert box.bus(engine_running=False) == []


def test_a_withdrawal_retry_waits_for_the_engine() -> None:
    box = Box()
    box.rent()
    box.lock()
    sent = box.bus(lock_state="locked")
    assert of_type(sent, SendCan) == [SendCan("start_disable")]
    box.bus(engine_running=True)
    timed_out = box.fire(sent)
    assert of_type(timed_out, SendCan) == []
    assert events(timed_out) == [StartWithdrawPending(engine="running")]
    assert result_of(box.reply(timed_out)) == {
        "lock": "locked",
        "start_enabled": True,
        "start_withdraw_pending": True,
        "as_commanded": [],
    }
    assert of_type(box.bus(engine_running=False), SendCan) == [SendCan("start_disable")]


def test_lock_stuck_retries_then_fault() -> None:
    box = Box()
    box.rent()
    views = []
    intents = box.lock()
    for _ in range(RETRIES):
        views.append(box.controller.view().lock)
        intents = box.fire(intents)
        assert of_type(intents, SendCan) == [SendCan("lock")]
    views.append(box.controller.view().lock)
    box.bus(fuel_pct=79.0)
    views.append(box.controller.view().lock)
    failed = box.fire(intents)
    assert failed == [
        RaiseEvent(LockFault(target="locked", frames_sent=3, bus_shows="unlocked")),
        Reply("cmd-3", "failed", "hardware_timeout", "the central lock did not confirm locked"),
    ]
    views.append(box.controller.view().lock)
    assert views == ["unlocked"] * 4 + ["fault"]
    # The bus repeating the stuck state, or losing it and finding it again, is no news.
    box.bus(fuel_pct=78.0)
    box.bus(lock_state=None)
    assert box.controller.view().lock == "fault"
    box.bus(lock_state="unlocked")
    assert box.controller.view().lock == "fault"
    assert box.controller.view().start_enabled is True
    # A status change clears it.
    assert box.bus(lock_state="locked") == [RaiseEvent(LockFaultCleared(state="locked"))]
    assert box.controller.view().lock == "locked"


def test_a_later_successful_command_clears_a_fault() -> None:
    box = Box()
    box.rent()
    intents = box.lock()
    for _ in range(RETRIES + 1):
        intents = box.fire(intents)
    assert box.controller.view().lock == "fault"
    retry = box.lock()
    assert of_type(retry, SendCan) == [SendCan("lock")]
    assert box.controller.view().lock == "fault"
    cleared = box.bus(lock_state="locked")
    assert RaiseEvent(LockFaultCleared(state="locked")) in cleared
    assert box.controller.view().lock == "locked"


def test_a_fault_is_cleared_by_a_command_the_bus_already_shows() -> None:
    box = Box()
    box.rent()
    intents = box.lock()
    for _ in range(RETRIES + 1):
        intents = box.fire(intents)
    unlocked = box.unlock()
    assert of_type(unlocked, SendCan) == []
    assert events(unlocked) == [LockFaultCleared(state="unlocked")]
    assert box.reply(unlocked).status == "ok"


def test_start_enable_stuck_on_unlock() -> None:
    box = Box()
    box.book()
    box.unlock()
    intents = box.bus(lock_state="unlocked")
    assert box.controller.view().rental == "active"
    for _ in range(RETRIES):
        intents = box.fire(intents)
    failed = box.fire(intents)
    assert events(failed) == [
        StartEnableFault(target="enabled", frames_sent=3, bus_shows="disabled")
    ]
    assert box.reply(failed) == Reply(
        "cmd-2", "failed", "hardware_timeout", "start enable did not confirm the change"
    )
    assert box.controller.view().rental == "active"
    assert box.controller.view().start_enabled is False


def test_end_rental_fails_when_the_lock_is_stuck() -> None:
    box = Box()
    box.rent()
    intents = box.end()
    for _ in range(RETRIES + 1):
        intents = box.fire(intents)
    detail = "the central lock did not confirm locked; the rental is still active"
    assert events(intents)[-1] == RentalEndFailed(order_id="order-1", reason=detail)
    assert box.reply(intents) == Reply("cmd-3", "failed", "hardware_timeout", detail)
    assert of_type(intents, WriteRecord) == []
    assert box.controller.view().rental == "active"


def test_end_rental_fails_when_start_enable_is_stuck() -> None:
    box = Box()
    box.rent()
    box.end()
    intents = box.bus(lock_state="locked")
    for _ in range(RETRIES + 1):
        intents = box.fire(intents)
    assert box.reply(intents).code == "hardware_timeout"
    assert box.controller.view().rental == "active"
    assert box.controller.view().lock == "locked"


def test_end_rental_when_the_engine_starts_while_locking() -> None:
    box = Box()
    box.rent()
    box.end()
    box.bus(engine_running=True)
    intents = box.bus(lock_state="locked")
    assert of_type(intents, SendCan) == []
    reply = box.reply(intents)
    assert (reply.status, reply.code) == ("rejected", "not_allowed")
    assert reply.detail == (
        "the engine started while ending; start enable withdrawal pending;"
        " the rental is still active"
    )
    assert box.controller.view().rental == "active"


def test_end_rental_of_a_car_already_locked_only_withdraws_start() -> None:
    box = Box()
    box.rent()
    box.lock()
    box.bus(lock_state="locked")
    box.bus(start_enabled=False)
    ended = box.end()
    assert of_type(ended, SendCan) == []
    assert [type(intent) for intent in ended] == [WriteRecord, Reply]


def test_ending_a_booking_never_unlocked_cancels_it_at_no_charge() -> None:
    box = Box()
    box.book()
    box.wait(600)
    ended = box.end()
    fields = {
        "order_id": "order-1",
        "started_at": None,
        "ended_at": wall(box.mono),
        "duration_s": 0,
        "fuel_start_pct": None,
        "fuel_end_pct": 80.0,
        "odometer_start_km": None,
        "odometer_end_km": 12345.6,
        "distance_km": None,
        "check": {
            "doors_closed": True,
            "lock": "locked",
            "ignition": False,
            "engine_running": False,
            "fault_codes": None,
            "notes": ["booking cancelled before the first unlock"],
        },
        "charges": {"time_cents": 0, "fuel_cents": 0, "total_cents": 0, "currency": "EUR"},
    }
    record = RentalEnded.model_validate(fields)
    assert ended == [WriteRecord(record), Reply("cmd-2", "ok", result=record)]
    assert box.controller.view().rental == "none"


def test_unknown_signals() -> None:
    box = Box()
    box.rent()
    box.bus(lock_state=None, start_enabled=None)
    assert box.controller.view().lock == "unknown"
    assert box.controller.view().start_enabled is None
    box.bus(engine_running=None)
    box.lock()
    locked = box.bus(lock_state="locked")
    assert events(locked) == [StartWithdrawPending(engine="unknown")]
    assert of_type(locked, SendCan) == []
    # Unknown fuel or odometer at the end: no fuel charge, no distance, and the check says so.
    assert of_type(box.bus(engine_running=False), SendCan) == [SendCan("start_disable")]
    assert refusal(box, box.end())[1] == "busy"
    box.bus(start_enabled=False, fuel_pct=None, odometer_km=None)
    (record,) = of_type(box.end(), WriteRecord)
    assert isinstance(record.record, RentalEnded)
    assert record.record.fuel_end_pct is None
    assert record.record.distance_km is None
    assert record.record.charges.fuel_cents == 0
    assert record.record.check.notes == ["fuel unknown", "odometer unknown"]


def test_unrelated_and_stale_timers_are_ignored() -> None:
    box = Box()
    box.book()
    box.unlock()
    assert box.send(TimerFired("lock:99")) == []
    assert box.send(TimerFired("cabinet:1")) == []
    assert box.controller.view().lock == "locked"


def test_restore_mid_rental_goes_on_without_touching_the_car() -> None:
    box = Box()
    box.rent()
    started_mono = box.mono
    box.wait(125.2)
    box.bus(fuel_pct=70.0, odometer_km=12400.0, engine_running=True, ignition=True)
    restarted(box)
    assert box.controller.resume(box.now) == []
    assert box.controller.view().model_dump() == {
        "lock": "unknown",
        "start_enabled": None,
        "rental": "active",
        "in_service": True,
        "lock_commanded": None,
        "start_enabled_as_commanded": False,
    }
    assert box.bus() == []
    assert box.controller.view().lock == "unlocked"
    assert box.controller.view().start_enabled is True
    box.bus(engine_running=False, ignition=False)
    assert box.bus(lock_state=None, start_enabled=None) == []
    assert box.bus(lock_state="unlocked", start_enabled=True) == []
    box.wait(1.0)
    box.end()
    box.bus(lock_state="locked")
    (written,) = of_type(box.bus(start_enabled=False), WriteRecord)
    record = written.record
    assert isinstance(record, RentalEnded)
    assert record.started_at == wall(started_mono)
    assert record.duration_s == 126
    assert record.fuel_start_pct == 80.0
    assert record.distance_km == 54.4
    # 3 minutes * 25 + 50 L * 10 % * 789 = 75 + 3945.
    assert record.charges.model_dump() == {
        "time_cents": 75,
        "fuel_cents": 3945,
        "total_cents": 4020,
        "currency": "EUR",
    }


def test_a_command_in_flight_at_the_crash_is_answered_on_resume() -> None:
    box = Box()
    box.book()
    box.unlock()
    restarted(box)
    assert box.controller.snapshot().command_in_flight == "cmd-2"
    assert box.controller.resume(box.now) == [
        Reply("cmd-2", "failed", "hardware_fault", "interrupted by restart")
    ]
    assert box.controller.resume(box.now) == []
    assert box.controller.snapshot().command_in_flight is None
    assert box.controller.view().rental == "booked"
    # The late confirmation of the interrupted unlock does not start the rental.
    assert box.bus(lock_state="unlocked") == []
    assert box.controller.view().rental == "booked"


def test_a_pending_withdrawal_survives_a_restart() -> None:
    box = Box()
    box.rent()
    box.bus(engine_running=True)
    box.lock()
    box.bus(lock_state="locked")
    restarted(box)
    assert box.controller.resume(box.now) == []
    assert box.bus(engine_running=True) == []
    assert of_type(box.bus(engine_running=False), SendCan) == [SendCan("start_disable")]


def test_restore_refuses_a_malformed_snapshot() -> None:
    snapshot = Box().controller.snapshot().model_dump(mode="json")
    with pytest.raises(SnapshotError, match="version"):
        VehicleController.restore({**snapshot, "version": 99}, TIMEOUT_S, RETRIES)
    with pytest.raises(SnapshotError, match="malformed"):
        VehicleController.restore({"version": 1}, TIMEOUT_S, RETRIES)
    broken = {**snapshot, "rental": {**snapshot["rental"], "state": "parked"}}
    with pytest.raises(SnapshotError, match="parked"):
        VehicleController.restore(broken, TIMEOUT_S, RETRIES)


def test_an_unlock_drops_a_pending_withdrawal_before_the_engine_stops() -> None:
    box = Box()
    box.rent()
    box.bus(engine_running=True)
    box.lock()
    box.bus(lock_state="locked")
    box.unlock()
    assert box.bus(engine_running=False) == []
    reopened = box.bus(lock_state="unlocked")
    assert of_type(reopened, SendCan) == []
    assert box.reply(reopened).status == "ok"


def test_a_second_lock_shares_the_withdrawal_the_engine_stop_began() -> None:
    box = Box()
    box.rent()
    box.bus(engine_running=True)
    box.lock()
    box.bus(lock_state="unlocked")
    box.bus(lock_state="locked")
    second = box.lock()
    assert result_of(box.reply(second)) == {
        "lock": "locked",
        "start_enabled": True,
        "start_withdraw_pending": True,
        "as_commanded": [],
    }
    box.bus(lock_state="unlocked")
    third = box.lock()
    assert of_type(third, SendCan) == [SendCan("lock")]
    assert of_type(box.bus(engine_running=False), SendCan) == [SendCan("start_disable")]
    assert of_type(box.bus(lock_state="locked"), Reply) == []
    assert result_of(box.reply(box.bus(start_enabled=False))) == {
        "lock": "locked",
        "start_enabled": False,
        "start_withdraw_pending": False,
        "as_commanded": [],
    }
