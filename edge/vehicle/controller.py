"""The vehicle box: bus events and commands in; CAN frames, timers, records, replies, events out.

One lock-and-start operation runs at a time; another command meanwhile is `busy`:
- unlock: the central lock opens; the first confirmed unlock of a booking starts the rental
  clock and writes `rental_started`; then start enable is switched on.
- lock: the central lock closes; then start enable is withdrawn (deferred while the engine may
  run, and the reply says so).
- end_rental: refused while the engine may run or a door may be open; locks, withdraws start
  enable, then writes `rental_ended` and replies with its fields. A booking never unlocked is
  ended the same way at no charge.
- test_lock_pulse (an installer grant): only with no rental and the engine off; writes
  `test_lock_pulse` naming the grant, then locks or unlocks once; start enable is untouched.
Each accepted command gets one reply when its operation ends; a refused one is answered at once.
"""

from dataclasses import dataclass
from typing import Literal

from pydantic import JsonValue

from edge.clock import Now
from edge.commands.reply import FailureCode, RejectCode
from edge.controller import ControllerBase, Memo, SnapshotError, restore_snapshot
from edge.intents import Intent, TimerFired
from edge.vehicle.actuator import Outcome, Position
from edge.vehicle.capabilities import Capabilities
from edge.vehicle.events import RentalEndFailed, ServiceChanged
from edge.vehicle.inputs import (
    EndRental,
    InstallerLockPulse,
    Lock,
    SetService,
    Signals,
    SignalsUpdated,
    StartRental,
    TroubleCodes,
    Unlock,
    VehicleInput,
)
from edge.vehicle.lock import LOCKED, UNLOCKED, CentralLock
from edge.vehicle.readings import Readings, vehicle_check
from edge.vehicle.records import InstallerLockPulsed, VehicleCheck
from edge.vehicle.rental import ACTIVE, BOOKED, NONE, Rental
from edge.vehicle.results import (
    AsCommanded,
    LockPulseResult,
    LockResult,
    SetServiceResult,
    StartRentalResult,
    UnlockResult,
)
from edge.vehicle.snapshot import SNAPSHOT_VERSION, VehicleSnapshot
from edge.vehicle.start_enable import DISABLED, ENABLED, StartEnable
from edge.vehicle.states import CentralLockState
from edge.vehicle.telemetry import VehicleStatus, VehicleView

__all__ = ["SnapshotError", "VehicleController"]


IN_FLIGHT = "another lock or start operation is in flight"
LockOperation = Unlock | Lock | EndRental | InstallerLockPulse


@dataclass
class _Operation:
    command: LockOperation
    stage: Literal["lock", "start"] = "lock"
    # The car as the renter found it, read when the first unlock of a booking is accepted.
    pre_use: tuple[Readings, VehicleCheck] | None = None


class VehicleController(ControllerBase):
    def __init__(
        self,
        command_timeout_s: float,
        command_retries: int,
        capabilities: Capabilities | None = None,
    ) -> None:
        super().__init__()
        able = capabilities or Capabilities()
        self._able = able
        self._lock = CentralLock(
            self._outbox, command_timeout_s, command_retries, has_status=able.lock_status
        )
        self._start = StartEnable(
            self._outbox, command_timeout_s, command_retries, has_status=able.start_status
        )
        self._rental = Rental()
        self._in_service = True
        self._service_reason = ""
        self._signals = Signals()
        self._fault_codes: tuple[str, ...] | None = None
        self._operation: _Operation | None = None
        self._interrupted: str | None = None
        self._snapshot_memo: Memo[VehicleSnapshot] = Memo()
        self._view_memo: Memo[VehicleView] = Memo()

    def handle(self, event: VehicleInput, now: Now) -> list[Intent]:
        match event:
            case SignalsUpdated(signals=signals):
                self._signals = signals
                if self._able.lock_status:
                    self._lock.bus_shows(signals.lock_state)
                if self._able.start_status:
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
            case InstallerLockPulse():
                self._pulse(event)
        self._advance(now)
        return self._take_outbox()

    @property
    def command_in_flight(self) -> str | None:
        """The command whose operation is under way (or was, when the agent stopped)."""
        return self._operation.command.command_id if self._operation else self._interrupted

    def view(self) -> VehicleView:
        """The telemetry fields this controller owns (contract section 5); the same object
        while none of them changed."""
        lock, start, rental = self._lock, self._start, self._rental
        inputs = (lock.lock_view, start.enabled, rental.view, self._in_service, lock.commanded_view)
        return self._view_memo.get(
            inputs,
            lambda: VehicleView(
                lock=lock.lock_view,
                start_enabled=start.enabled,
                rental=rental.view,
                in_service=self._in_service,
                lock_commanded=lock.commanded_view,
                start_enabled_as_commanded=self._able.start_command and not self._able.start_status,
            ),
        )

    def describe(self) -> VehicleStatus:
        """For `edge-agent status`: the rental and the service hold, as last made durable."""
        rental = self._rental
        return VehicleStatus(
            rental=rental.view,
            order_id=rental.order_id,
            renter=rental.renter,
            started_at=rental.started_wall,
            in_service=self._in_service,
            service_reason=self._service_reason,
        )

    def snapshot(self) -> VehicleSnapshot:
        """The durable state; the same object while nothing it is built from changed."""
        start = self._start
        inputs = (
            self._in_service,
            self._service_reason,
            self._rental.snapshot_inputs(),
            self.command_in_flight,
            self._lock.timer_seq,
            start.timer_seq,
            start.withdraw_pending,
        )
        return self._snapshot_memo.get(
            inputs,
            lambda: VehicleSnapshot(
                version=SNAPSHOT_VERSION,
                in_service=self._in_service,
                service_reason=self._service_reason,
                rental=self._rental.snapshot(),
                command_in_flight=self.command_in_flight,
                lock=self._lock.snapshot(),
                start_enable=start.snapshot(),
            ),
        )

    @classmethod
    def restore(
        cls,
        saved_json: JsonValue,
        command_timeout_s: float,
        command_retries: int,
        capabilities: Capabilities | None = None,
    ) -> "VehicleController":
        """After a restart (`saved_json`: the snapshot as the store keeps it): the rental goes
        on; lock and start enable are unknown until the bus shows them; nothing is sent to the
        car. Call resume() once next."""
        saved = restore_snapshot(VehicleSnapshot, saved_json, SNAPSHOT_VERSION, "vehicle")
        controller = cls(command_timeout_s, command_retries, capabilities)
        controller._in_service = saved.in_service
        controller._service_reason = saved.service_reason
        controller._rental.restore(saved.rental)
        controller._interrupted = saved.command_in_flight
        controller._lock.restore(saved.lock)
        controller._start.restore(saved.start_enable)
        return controller

    def resume(self, now: Now) -> list[Intent]:
        """The replies owed for a command that was in flight when the agent stopped."""
        if self._interrupted is not None:
            self._fail(self._interrupted, FailureCode.HARDWARE_FAULT, "interrupted by restart")
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
            self._reject(command.command_id, RejectCode.NOT_ALLOWED, "; ".join(reasons))
            return
        self._rental.book_for(command.order_id, command.renter, command.tariff)
        self._ok(command.command_id, StartRentalResult(order_id=command.order_id, rental="booked"))

    def _set_service(self, command: SetService) -> None:
        if command.in_service != self._in_service:
            self._event(ServiceChanged(in_service=command.in_service, reason=command.reason))
        self._in_service, self._service_reason = command.in_service, command.reason
        self._ok(command.command_id, SetServiceResult(in_service=command.in_service))

    def _begin(self, command: Unlock | Lock | EndRental) -> None:
        refusal = self._rental.refusal(command.order_id)
        if refusal is None and isinstance(command, Unlock | Lock):
            refusal = self._able.missing_lock("unlock" if isinstance(command, Unlock) else "lock")
        if refusal is None and isinstance(command, EndRental):
            refusal = self._end_refusal()
        if self._refused(command.command_id, refusal):
            return
        operation = _Operation(command)
        if isinstance(command, Unlock):
            self._start.cancel_withdrawal()
            if self._rental.state == BOOKED:
                operation.pre_use = (Readings.of(self._signals), self._check())
        self._operation = operation
        if self._able.lock_command:
            self._lock.command(_lock_target(command).state)

    def _refused(self, command_id: str, refusal: str | None) -> bool:
        """Answers a command its rules (`refusal`) or an operation in flight forbid; True
        when it did."""
        if refusal is not None:
            self._reject(command_id, RejectCode.NOT_ALLOWED, refusal)
        elif self._operation is not None or self._lock.moving or self._start.moving:
            self._reject(command_id, RejectCode.BUSY, IN_FLIGHT)
        else:
            return False
        return True

    def _pulse(self, command: InstallerLockPulse) -> None:
        """An installer's lock or unlock, once, of a car nobody rents, engine off: the record
        naming the grant, then the frame. Answered when the bus shows the lock there."""
        if self._refused(command.command_id, self._pulse_refusal(command)):
            return
        self._record(InstallerLockPulsed(grant_id=command.command_id, action=command.action))
        self._operation = _Operation(command)
        self._lock.command(_lock_target(command).state)

    def _pulse_refusal(self, command: InstallerLockPulse) -> str | None:
        missing = self._able.missing_lock(command.action)
        if missing is not None:
            return missing
        reasons = []
        if self._rental.state != NONE:
            reasons.append(f"the car is {self._rental.view} for order {self._rental.order_id}")
        engine = self._signals.engine_running
        if engine is not False:
            reasons.append("engine running" if engine else "engine state unknown")
        target = _lock_target(command).state
        if self._able.lock_status and self._lock.lock_view == target:
            reasons.append(f"the central lock already shows {target}: nothing would move")
        return "; ".join(reasons) or None

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
            outcome = self._lock.outcome if self._able.lock_command else Outcome.REACHED
            if outcome is None:
                return
            if outcome is Outcome.FAILED:
                self._operation = None
                target = _lock_target(operation.command).state
                self._not_done(
                    operation,
                    FailureCode.HARDWARE_TIMEOUT,
                    f"the central lock did not confirm {target}",
                )
                return
            if isinstance(operation.command, InstallerLockPulse):
                self._operation = None
                self._pulsed(operation.command)
                return
            operation.stage = "start"
            if operation.pre_use is not None:
                self._record(self._rental.start_clock(now, *operation.pre_use))
            unlocking = isinstance(operation.command, Unlock)
            if self._able.start_command:
                self._start.command((ENABLED if unlocking else DISABLED).state)
        outcome = self._start.outcome if self._able.start_command else Outcome.REACHED
        if outcome is not None:
            self._operation = None
            self._finish(operation, outcome, now)

    def _finish(self, operation: _Operation, outcome: Outcome, now: Now) -> None:
        command_id = operation.command.command_id
        match operation.command, outcome:
            case Unlock(), Outcome.REACHED:
                result = UnlockResult(
                    lock="unlocked",
                    start_enabled=True if self._able.start_command else None,
                    rental=self._rental.view,
                    as_commanded=self._as_commanded(),
                )
                self._ok(command_id, result)
            case Lock(), Outcome.REACHED | Outcome.DEFERRED:
                locked = LockResult(
                    lock="locked",
                    start_enabled=self._start.enabled if self._able.start_command else None,
                    start_withdraw_pending=outcome is Outcome.DEFERRED,
                    as_commanded=self._as_commanded(),
                )
                self._ok(command_id, locked)
            case EndRental(), Outcome.REACHED:
                started_synced = self._rental.started_wall is None or self._rental.started_synced
                ended = self._rental.finish(now, Readings.of(self._signals), self._check())
                self._record(ended, synced=started_synced is True)
                self._ok(command_id, ended)
            case EndRental(), Outcome.DEFERRED:
                detail = "the engine started while ending; start enable withdrawal pending"
                # The contract's `failed` codes are hardware ones: a state rule refuses.
                self._not_done(operation, RejectCode.NOT_ALLOWED, detail)
            case _:
                self._not_done(
                    operation,
                    FailureCode.HARDWARE_TIMEOUT,
                    "start enable did not confirm the change",
                )

    def _pulsed(self, command: InstallerLockPulse) -> None:
        lock = _lock_target(command).state
        self._ok(
            command.command_id,
            LockPulseResult(
                action=command.action,
                lock="locked" if lock == LOCKED.state else "unlocked",
                as_commanded=[field for field in self._as_commanded() if field == "lock"],
            ),
        )

    def _not_done(self, operation: _Operation, code: RejectCode | FailureCode, detail: str) -> None:
        """An accepted operation ended without its effect: refused (a state rule) or failed."""
        command = operation.command
        if isinstance(command, EndRental):
            detail += f"; the rental is still {self._rental.state}"
            self._event(RentalEndFailed(order_id=command.order_id, reason=detail))
        if isinstance(code, RejectCode):
            self._reject(command.command_id, code, detail)
        else:
            self._fail(command.command_id, code, detail)

    def _as_commanded(self) -> list[AsCommanded]:
        """The reply's fields that are what the box commanded, not what the car confirmed."""
        fields: list[AsCommanded] = []
        if self._able.lock_command and not self._able.lock_status:
            fields.append("lock")
        if self._able.start_command and not self._able.start_status:
            fields.append("start_enabled")
        return fields

    def _check(self) -> VehicleCheck:
        return vehicle_check(self._signals, self._lock.lock_view, self._fault_codes)


def _lock_target(command: LockOperation) -> Position[CentralLockState]:
    """Where the command moves the central lock."""
    if isinstance(command, InstallerLockPulse):
        return UNLOCKED if command.action == "unlock" else LOCKED
    return UNLOCKED if isinstance(command, Unlock) else LOCKED
