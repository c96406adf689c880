"""Random walks over the vehicle controller against a simulated car whose actuators may stick.

After every step: start enable is never withdrawn while the engine may run; unlock is never sent
without a booked or active rental for the command's order; the reported lock and start states are
the last the bus has shown (or fault); the controller's rental is the one its records and replies
tell of; an end_rental is accepted only with the engine seen stopped and the doors closed. At the
end, once every timer has run out, each accepted command has exactly one reply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from vehicle_driver import PARKED, RETRIES, TARIFF, TIMEOUT_S, wall

from edge.clock import Now
from edge.intents import (
    CancelTimer,
    Intent,
    RaiseEvent,
    Reply,
    StartTimer,
    TimerFired,
    WriteRecord,
)
from edge.vehicle.controller import VehicleController
from edge.vehicle.inputs import (
    Command,
    EndRental,
    Lock,
    SetService,
    Signals,
    SignalsUpdated,
    StartRental,
    TroubleCodes,
    Unlock,
    VehicleInput,
)
from edge.vehicle.intents import SendCan
from edge.vehicle.records import RentalEnded, RentalStarted
from firmware_protocol.can.values import LockState


def mostly(usual: Any, *rare: Any) -> st.SearchStrategy[Any]:
    """`usual` three times as often as each of `rare` (default: the other boolean)."""
    others = rare or (not usual,)
    return st.sampled_from([usual, usual, usual, *others])


@dataclass
class Car:
    """The body controller: obeys a frame unless that actuator is stuck."""

    signals: Signals = PARKED
    lock_stuck: bool = False
    start_stuck: bool = False
    lock_visible: bool = True
    start_visible: bool = True
    lock: LockState = "locked"
    start: bool = False

    def obey(self, command: str) -> None:
        if command in ("lock", "unlock") and not self.lock_stuck:
            self.lock = "locked" if command == "lock" else "unlocked"
        if command in ("start_enable", "start_disable") and not self.start_stuck:
            self.start = command == "start_enable"

    def on_bus(self) -> Signals:
        return replace(
            self.signals,
            lock_state=self.lock if self.lock_visible else None,
            start_enabled=self.start if self.start_visible else None,
        )


@dataclass
class RentalModel:
    """The rental as the controller's replies and records have told it."""

    state: str = "none"
    order_id: str | None = None
    commands: dict[str, Command] = field(default_factory=dict)
    replies: dict[str, Reply] = field(default_factory=dict)


class VehicleBox(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.controller = VehicleController(TIMEOUT_S, RETRIES)
        self.mono = 0.0
        self.car = Car()
        self.told: Signals | None = None
        self.timers: list[str] = []
        self.model = RentalModel()
        self.orders = 0
        self.deliver()

    # -- the adapter --------------------------------------------------------------------------

    @property
    def now(self) -> Now:
        return Now(self.mono, wall(self.mono), True)

    def feed(self, event: VehicleInput) -> None:
        if isinstance(event, SignalsUpdated):
            self.told = event.signals
        self.mono += 0.05
        self.carry_out(self.controller.handle(event, self.now))

    def carry_out(self, intents: list[Intent]) -> None:
        for intent in intents:
            match intent:
                case SendCan(command="start_disable"):
                    assert self.told is not None
                    assert self.told.engine_running is False
                    self.car.obey(intent.command)
                case SendCan(command="unlock"):
                    in_flight = self.controller.snapshot().command_in_flight
                    assert in_flight is not None
                    command = self.model.commands[in_flight]
                    assert isinstance(command, Unlock)
                    assert self.model.state in ("booked", "active")
                    assert command.order_id == self.model.order_id
                    self.car.obey(intent.command)
                case SendCan():
                    self.car.obey(intent.command)
                case StartTimer(name=name):
                    assert name not in self.timers
                    self.timers.append(name)
                case CancelTimer(name=name):
                    self.timers.remove(name)
                case Reply():
                    self.take_reply(intent)
                case WriteRecord():
                    self.take_record(intent)
                case RaiseEvent(event=raised):
                    event(f"event {raised.event_type}")

    def take_reply(self, reply: Reply) -> None:
        assert reply.command_id in self.model.commands, "a reply for no command"
        assert reply.command_id not in self.model.replies, "a second reply"
        self.model.replies[reply.command_id] = reply
        event(f"reply {reply.status} {reply.code}")
        command = self.model.commands[reply.command_id]
        if isinstance(command, StartRental) and reply.status == "ok":
            assert self.model.state == "none"
            self.model.state, self.model.order_id = "booked", command.order_id

    def take_record(self, written: WriteRecord) -> None:
        record = written.record
        assert isinstance(record, RentalStarted | RentalEnded)
        event(f"record {record.record_type}")
        assert record.order_id == self.model.order_id
        if record.record_type == "rental_started":
            assert self.model.state == "booked"
            self.model.state = "active"
        else:
            assert record.record_type == "rental_ended"
            assert isinstance(record, RentalEnded)
            assert self.model.state in ("booked", "active")
            charges = record.charges
            assert charges.total_cents == charges.time_cents + charges.fuel_cents
            self.model.state, self.model.order_id = "none", None

    def command(self, command: Command) -> None:
        told = self.told or Signals()
        self.model.commands[command.command_id] = command
        self.feed(command)
        reply = self.model.replies.get(command.command_id)
        if isinstance(command, EndRental) and (reply is None or reply.status != "rejected"):
            assert (told.engine_running, told.doors_closed) == (False, True)

    def new_id(self) -> str:
        return f"cmd-{len(self.model.commands) + 1}"

    def order(self, valid: bool) -> str:
        return (self.model.order_id or "order-none") if valid else "order-other"

    def deliver(self) -> None:
        signals = self.car.on_bus()
        if signals != self.told:
            self.feed(SignalsUpdated(signals))

    # -- rules ----------------------------------------------------------------------------------

    @initialize(rented=st.booleans())
    def maybe_rented(self, rented: bool) -> None:
        if rented:
            self.start_rental()
            self.unlock(valid=True, deliver=True)
            self.deliver()

    @rule()
    def start_rental(self) -> None:
        self.orders += 1
        self.command(StartRental(self.new_id(), f"order-{self.orders}", "renter", TARIFF))

    @rule(valid=mostly(True), deliver=st.booleans())
    def unlock(self, valid: bool, deliver: bool) -> None:
        self.command(Unlock(self.new_id(), self.order(valid)))
        if deliver:
            self.deliver()

    @rule(valid=mostly(True), deliver=st.booleans())
    def lock(self, valid: bool, deliver: bool) -> None:
        self.command(Lock(self.new_id(), self.order(valid)))
        if deliver:
            self.deliver()

    @rule(valid=mostly(True), deliver=st.booleans())
    def end_rental(self, valid: bool, deliver: bool) -> None:
        self.command(EndRental(self.new_id(), self.order(valid)))
        if deliver:
            self.deliver()

    @rule(in_service=mostly(True))
    def set_service(self, in_service: bool) -> None:
        self.command(SetService(self.new_id(), in_service, "" if in_service else "maintenance"))

    @rule(running=mostly(False, True, None), deliver=st.booleans())
    def engine(self, running: bool | None, deliver: bool) -> None:
        self.car.signals = replace(self.car.signals, engine_running=running, ignition=running)
        if deliver:
            self.deliver()

    @rule(closed=mostly(True, False, None), deliver=st.booleans())
    def doors(self, closed: bool | None, deliver: bool) -> None:
        self.car.signals = replace(self.car.signals, doors_closed=closed)
        if deliver:
            self.deliver()

    @rule(km=st.floats(0, 300), fuel_pct=st.none() | st.floats(0, 100))
    def drive(self, km: float, fuel_pct: float | None) -> None:
        odometer = self.car.signals.odometer_km or 0.0
        self.car.signals = replace(self.car.signals, odometer_km=odometer + km, fuel_pct=fuel_pct)
        self.mono += km * 40

    @rule(lock_stuck=mostly(False), start_stuck=mostly(False))
    def actuators(self, lock_stuck: bool, start_stuck: bool) -> None:
        self.car.lock_stuck, self.car.start_stuck = lock_stuck, start_stuck

    @rule(lock_visible=mostly(True), start_visible=mostly(True))
    def bus_visibility(self, lock_visible: bool, start_visible: bool) -> None:
        self.car.lock_visible, self.car.start_visible = lock_visible, start_visible

    @rule()
    def bus_delivers(self) -> None:
        self.deliver()

    @precondition(lambda self: bool(self.timers))
    @rule(data=st.data())
    def timer_runs_out(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.timers))
        self.timers.remove(name)
        self.mono += TIMEOUT_S
        self.feed(TimerFired(name))

    @rule(codes=st.none() | st.lists(st.sampled_from(["P0420", "P0300"]), max_size=2))
    def trouble_codes(self, codes: list[str] | None) -> None:
        self.feed(TroubleCodes(None if codes is None else tuple(codes)))

    @rule()
    def crash_and_restart(self) -> None:
        snapshot = json.loads(self.controller.snapshot().model_dump_json())
        self.controller = VehicleController.restore(snapshot, TIMEOUT_S, RETRIES)
        self.timers.clear()
        self.told = None
        resumed = self.controller.resume(self.now)
        assert not any(isinstance(intent, SendCan) for intent in resumed)
        self.carry_out(resumed)

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def reports_only_what_the_bus_showed(self) -> None:
        view = self.controller.view()
        told = self.told or Signals()
        assert view.lock in (told.lock_state or "unknown", "fault")
        assert view.start_enabled == told.start_enabled

    @invariant()
    def one_rental_as_told(self) -> None:
        assert self.controller.view().rental == self.model.state

    def teardown(self) -> None:
        for _ in range(8 * (RETRIES + 1)):
            self.deliver()
            if not self.timers:
                break
            self.mono += TIMEOUT_S
            self.feed(TimerFired(self.timers.pop(0)))
        assert self.timers == []
        assert set(self.model.replies) == set(self.model.commands)


VehicleBox.TestCase.settings = settings(max_examples=300, stateful_step_count=50, deadline=None)
TestVehicleBox = VehicleBox.TestCase
