"""The central lock and start enable machines on their own: confirm, retry, fault, defer."""

from __future__ import annotations

import logging

import pytest

from edge.intents import CancelTimer, Intent, RaiseEvent, StartTimer
from edge.vehicle.actuator import Outcome
from edge.vehicle.controller import VehicleController
from edge.vehicle.events import LockFault, LockFaultCleared, StartWithdrawPending
from edge.vehicle.intents import SendCan
from edge.vehicle.lock import CentralLock
from edge.vehicle.start_enable import StartEnable


def drained(outbox: list[Intent]) -> list[Intent]:
    taken = outbox.copy()
    outbox.clear()
    return taken


def of_sends(outbox: list[Intent]) -> list[Intent]:
    return [intent for intent in outbox if isinstance(intent, SendCan)]


def test_a_lock_reports_only_confirmed_positions() -> None:
    outbox: list[Intent] = []
    lock = CentralLock(outbox, command_timeout_s=1.5, command_retries=1)
    assert lock.view == "unknown"
    lock.bus_shows("unlocked")
    lock.command("locked")
    assert drained(outbox) == [SendCan("lock"), StartTimer("lock:1", 1.5)]
    assert (lock.view, lock.moving, lock.outcome) == ("unlocked", True, None)
    lock.bus_shows(None)
    assert lock.view == "unknown"
    lock.bus_shows("unlocked")
    assert lock.view == "unlocked"
    lock.bus_shows("locked")
    assert drained(outbox) == [CancelTimer("lock:1")]
    assert (lock.view, lock.moving, lock.outcome) == ("locked", False, Outcome.REACHED)


def test_a_command_to_where_the_bus_already_is_sends_nothing() -> None:
    outbox: list[Intent] = []
    lock = CentralLock(outbox, command_timeout_s=1.0, command_retries=3)
    lock.bus_shows("locked")
    lock.command("locked")
    assert outbox == []
    assert lock.outcome is Outcome.REACHED


def test_no_retries_then_fault_while_the_bus_is_silent() -> None:
    outbox: list[Intent] = []
    lock = CentralLock(outbox, command_timeout_s=1.0, command_retries=0)
    lock.command("unlocked")
    assert drained(outbox) == [SendCan("unlock"), StartTimer("lock:1", 1.0)]
    assert lock.timer_fired("lock:0") is False
    assert lock.timer_fired("lock:1") is True
    assert drained(outbox) == [
        RaiseEvent(LockFault(target="unlocked", frames_sent=1, bus_shows="unknown"))
    ]
    assert (lock.view, lock.outcome) == ("fault", Outcome.FAILED)
    assert lock.timer_fired("lock:1") is False
    # The first status after the fault is the stuck position: no news.
    lock.bus_shows("locked")
    lock.bus_shows(None)
    assert lock.view == "fault"
    lock.bus_shows("unlocked")
    assert drained(outbox) == [RaiseEvent(LockFaultCleared(state="unlocked"))]
    assert lock.view == "unlocked"


def test_withdrawal_waits_for_the_engine() -> None:
    outbox: list[Intent] = []
    start = StartEnable(outbox, command_timeout_s=1.0, command_retries=2)
    start.bus_status(True)
    start.command("disabled")
    assert drained(outbox) == [RaiseEvent(StartWithdrawPending(engine="unknown"))]
    assert (start.withdraw_pending, start.outcome, start.enabled) == (True, Outcome.DEFERRED, True)
    start.engine_seen(True)
    start.command("disabled")
    assert outbox == []
    start.engine_seen(False)
    assert drained(outbox) == [SendCan("start_disable"), StartTimer("start_enable:1", 1.0)]
    assert (start.moving, start.outcome) == (True, None)
    # A second request for the same move shares it.
    start.command("disabled")
    assert outbox == []
    start.bus_status(False)
    assert drained(outbox) == [CancelTimer("start_enable:1")]
    assert (start.enabled, start.outcome) == (False, Outcome.REACHED)


def test_a_pending_withdrawal_can_be_cancelled_or_satisfied_by_the_bus() -> None:
    outbox: list[Intent] = []
    start = StartEnable(outbox, command_timeout_s=1.0, command_retries=2)
    start.bus_status(True)
    start.engine_seen(True)
    start.command("disabled")
    start.cancel_withdrawal()
    assert not start.withdraw_pending
    start.engine_seen(False)
    assert drained(outbox) == [RaiseEvent(StartWithdrawPending(engine="running"))]
    start.engine_seen(True)
    start.command("disabled")
    start.bus_status(False)
    assert (start.withdraw_pending, start.enabled) == (False, False)
    start.engine_seen(False)
    assert of_sends(outbox) == []


def test_a_pending_withdrawal_is_kept_in_the_snapshot() -> None:
    outbox: list[Intent] = []
    start = StartEnable(outbox, command_timeout_s=1.0, command_retries=2)
    start.command("disabled")
    start.timer_seq = 7
    snapshot = start.snapshot()
    assert snapshot.model_dump() == {"timer_seq": 7, "withdraw_pending": True}
    restored = StartEnable(outbox, command_timeout_s=1.0, command_retries=2)
    restored.restore(snapshot)
    assert (restored.withdraw_pending, restored.enabled) == (True, None)
    outbox.clear()
    restored.engine_seen(False)
    assert outbox == [SendCan("start_disable"), StartTimer("start_enable:8", 1.0)]


def test_the_machines_bind_without_name_clashes(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="transitions"):
        VehicleController(command_timeout_s=1.0, command_retries=1)
    assert caplog.records == []


def test_a_start_fault_outlives_a_cancelled_withdrawal() -> None:
    outbox: list[Intent] = []
    start = StartEnable(outbox, command_timeout_s=1.0, command_retries=0)
    start.bus_status(False)
    start.command("enabled")
    start.timer_fired("start_enable:1")
    assert start.view == "fault"
    start.command("disabled")
    assert start.outcome is Outcome.REACHED
    assert start.view == "disabled"
    start.bus_status(True)
    start.command("disabled")
    start.cancel_withdrawal()
    assert start.view == "enabled"
    start.engine_seen(True)
    start.command("disabled")
    start.engine_seen(False)
    start.timer_fired("start_enable:2")
    assert start.view == "fault"
    start.engine_seen(True)
    start.command("disabled")
    assert start.withdraw_pending
    start.cancel_withdrawal()
    assert (start.view, start.withdraw_pending) == ("fault", False)
