"""The vehicle box: bus events and commands in; CAN frames, timers, records, replies, events out.

One lock-and-start operation runs at a time; another command meanwhile is `busy`:
- unlock: the central lock opens; the first confirmed unlock of a booking starts the rental
  clock and writes `rental_started`; then start enable is switched on.
- lock: the central lock closes; then start enable is withdrawn (deferred while the engine may
  run, and the reply says so).
- end_rental: refused while the engine may run or a door may be open; locks, withdraws start
  enable, then writes `rental_ended` and replies with its fields. A booking never unlocked is
  ended the same way at no charge.
Each accepted command gets one reply when its operation ends; a refused one is answered at once.
"""

import copy
from dataclasses import dataclass
from typing import Any, Literal

from edge.vehicle.actuator import Outcome
from edge.vehicle.events import (
    EndRental,
    Lock,
    Now,
    SetService,
    Signals,
    SignalsUpdated,
    StartRental,
    TimerFired,
    TroubleCodes,
    Unlock,
    VehicleEvent,
)
from edge.vehicle.intents import Event, Intent, Reply, ReplyStatus, WriteRecord
from edge.vehicle.lock import LOCKED, UNLOCKED, CentralLock
from edge.vehicle.readings import Readings, vehicle_check
from edge.vehicle.rental import ACTIVE, BOOKED, Rental
from edge.vehicle.start_enable import DISABLED, ENABLED, StartEnable

SNAPSHOT_VERSION = 1


class SnapshotError(ValueError):
    """A snapshot the vehicle controller cannot be restored from."""


@dataclass
class _Operation:
    command: Unlock | Lock | EndRental
    stage: Literal["lock", "start"] = "lock"
    # The car as the renter found it, read when the first unlock of a booking is accepted.
    pre_use: tuple[Readings, dict[str, Any]] | None = None


class VehicleController:
    def __init__(self, command_timeout_s: float, command_retries: int) -> None:
        self._outbox: list[Intent] = []
        self._lock = CentralLock(self._outbox, command_timeout_s, command_retries)
        self._start = StartEnable(self._outbox, command_timeout_s, command_retries)
        self._rental = Rental()
        self._in_service = True
        self._service_reason = ""
        self._signals = Signals()
        self._fault_codes: tuple[str, ...] | None = None
        self._operation: _Operation | None = None
        self._interrupted: str | None = None

    def handle(self, event: VehicleEvent, now: Now) -> list[Intent]:
        match event:
            case SignalsUpdated(signals=signals):
                self._signals = signals
                self._lock.bus_shows(signals.lock_state)
                self._start.bus_status(signals.start_enabled)
                self._start.engine_seen(signals.engine_running)
            case TroubleCodes(codes=codes):
                self._fault_codes = codes
            case TimerFired(name=name):
                if not self._lock.timer_fired(name):
                    self._start.timer_fired(name)
            case StartRental():
                self._book(event)
            case SetService():
                self._set_service(event)
            case Unlock() | Lock() | EndRental():
                self._begin(event)
        self._advance(now)
        return self._take_outbox()

    def view(self) -> dict[str, Any]:
        """The telemetry fields this controller owns (contract section 5)."""
        return {
            "lock": self._lock.view,
            "start_enabled": self._start.enabled,
            "rental": self._rental.state,
            "in_service": self._in_service,
        }

    def describe(self) -> dict[str, Any]:
        """For `edge-agent status`: the rental and the service hold, as last made durable."""
        rental = self._rental
        return {
            "rental": rental.state,
            "order_id": rental.order_id,
            "renter": rental.renter,
            "started_at": rental.started_wall,
            "in_service": self._in_service,
            "service_reason": self._service_reason,
        }

    def snapshot(self) -> dict[str, Any]:
        in_flight = self._operation.command.command_id if self._operation else self._interrupted
        return {
            "version": SNAPSHOT_VERSION,
            "in_service": self._in_service,
            "service_reason": self._service_reason,
            "rental": self._rental.snapshot(),
            "command_in_flight": in_flight,
            "lock": self._lock.snapshot(),
            "start_enable": self._start.snapshot(),
        }

    @classmethod
    def restore(
        cls, snapshot: dict[str, Any], command_timeout_s: float, command_retries: int
    ) -> "VehicleController":
        """After a restart: the rental goes on; lock and start enable are unknown until the bus
        shows them; nothing is sent to the car. Call resume() once next."""
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(f"snapshot version {snapshot.get('version')!r} is not supported")
        controller = cls(command_timeout_s, command_retries)
        try:
            controller._in_service = bool(snapshot["in_service"])
            controller._service_reason = str(snapshot["service_reason"])
            controller._rental.restore(snapshot["rental"])
            controller._interrupted = snapshot["command_in_flight"]
            controller._lock.restore(snapshot["lock"])
            controller._start.restore(snapshot["start_enable"])
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            raise SnapshotError(f"malformed vehicle snapshot: {error!r}") from error
        return controller

    def resume(self, now: Now) -> list[Intent]:
        """The replies owed for a command that was in flight when the agent stopped."""
        if self._interrupted is not None:
            self._reply(self._interrupted, "failed", "hardware_fault", "interrupted by restart")
            self._interrupted = None
        return self._take_outbox()

    def _book(self, command: StartRental) -> None:
        reasons = []
        if not self._in_service:
            reason = self._service_reason
            reasons.append(f"out of service: {reason}" if reason else "out of service")
        if self._rental.state == BOOKED:
            reasons.append("car already booked")
        elif self._rental.state == ACTIVE:
            reasons.append("car already rented")
        if reasons:
            self._reply(command.command_id, "rejected", "not_allowed", "; ".join(reasons))
            return
        self._rental.book_for(command.order_id, command.renter, command.tariff)
        self._reply(
            command.command_id, "ok", result={"order_id": command.order_id, "rental": BOOKED}
        )

    def _set_service(self, command: SetService) -> None:
        if command.in_service != self._in_service:
            self._outbox.append(
                Event(
                    "service_changed", {"in_service": command.in_service, "reason": command.reason}
                )
            )
        self._in_service, self._service_reason = command.in_service, command.reason
        self._reply(command.command_id, "ok", result={"in_service": command.in_service})

    def _begin(self, command: Unlock | Lock | EndRental) -> None:
        refusal = self._rental.refusal(command.order_id)
        if refusal is None and isinstance(command, EndRental):
            refusal = self._end_refusal()
        if refusal is not None:
            self._reply(command.command_id, "rejected", "not_allowed", refusal)
            return
        if self._operation is not None or self._lock.moving or self._start.moving:
            detail = "another lock or start operation is in flight"
            self._reply(command.command_id, "rejected", "busy", detail)
            return
        operation = _Operation(command)
        if isinstance(command, Unlock):
            self._start.cancel_withdrawal()
            if self._rental.state == BOOKED:
                operation.pre_use = (Readings.of(self._signals), self._check())
        self._operation = operation
        self._lock.command((UNLOCKED if isinstance(command, Unlock) else LOCKED).name)

    def _end_refusal(self) -> str | None:
        engine, doors = self._signals.engine_running, self._signals.doors_closed
        reasons = []
        if engine is not False:
            reasons.append("engine running" if engine else "engine state unknown")
        if doors is not True:
            reasons.append("door state unknown" if doors is None else "door open")
        return "; ".join(reasons) or None

    def _advance(self, now: Now) -> None:
        operation = self._operation
        if operation is None:
            return
        if operation.stage == "lock":
            outcome = self._lock.outcome
            if outcome is None:
                return
            if outcome is Outcome.FAILED:
                self._operation = None
                target = (UNLOCKED if isinstance(operation.command, Unlock) else LOCKED).name
                self._fail(
                    operation, "hardware_timeout", f"the central lock did not confirm {target}"
                )
                return
            operation.stage = "start"
            if operation.pre_use is not None:
                fields = self._rental.start_clock(now, *operation.pre_use)
                self._outbox.append(WriteRecord("rental_started", fields))
            unlocking = isinstance(operation.command, Unlock)
            self._start.command((ENABLED if unlocking else DISABLED).name)
        outcome = self._start.outcome
        if outcome is not None:
            self._operation = None
            self._finish(operation, outcome, now)

    def _finish(self, operation: _Operation, outcome: Outcome, now: Now) -> None:
        command_id = operation.command.command_id
        match operation.command, outcome:
            case Unlock(), Outcome.REACHED:
                result = {
                    "lock": UNLOCKED.name,
                    "start_enabled": True,
                    "rental": self._rental.state,
                }
                self._reply(command_id, "ok", result=result)
            case Lock(), Outcome.REACHED | Outcome.DEFERRED:
                result = {
                    "lock": LOCKED.name,
                    "start_enabled": self._start.enabled,
                    "start_withdraw_pending": outcome is Outcome.DEFERRED,
                }
                self._reply(command_id, "ok", result=result)
            case EndRental(), Outcome.REACHED:
                fields = self._rental.finish(now, Readings.of(self._signals), self._check())
                self._outbox.append(WriteRecord("rental_ended", fields))
                self._reply(command_id, "ok", result=copy.deepcopy(fields))
            case EndRental(), Outcome.DEFERRED:
                detail = "the engine started while ending; start enable withdrawal pending"
                # The contract's `failed` codes are hardware ones: a state rule refuses.
                self._fail(operation, "not_allowed", detail, status="rejected")
            case _:
                self._fail(operation, "hardware_timeout", "start enable did not confirm the change")

    def _fail(
        self,
        operation: _Operation,
        code: str,
        detail: str,
        status: Literal["rejected", "failed"] = "failed",
    ) -> None:
        command = operation.command
        if isinstance(command, EndRental):
            detail += f"; the rental is still {self._rental.state}"
            fields = {"order_id": command.order_id, "reason": detail}
            self._outbox.append(Event("rental_end_failed", fields))
        self._reply(command.command_id, status, code, detail)

    def _check(self) -> dict[str, Any]:
        return vehicle_check(self._signals, self._lock.view, self._fault_codes)

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
