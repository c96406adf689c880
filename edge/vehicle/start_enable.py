"""One-key start (start enable): an actuator that is never withdrawn while the engine may run.

A withdrawal asked for while the engine runs, or while its state is unknown, waits in
`withdraw_pending` and goes ahead when the bus shows the engine stopped. A retry of the
withdrawal frame obeys the same rule.
"""

from typing import ClassVar, Literal

from edge.intents import Intent, RaiseEvent
from edge.vehicle.actuator import (
    Actuator,
    Outcome,
    Position,
    StateRow,
    TransitionRow,
    transition,
)
from edge.vehicle.events import (
    ActuatorFault,
    ActuatorFaultCleared,
    StartEnableFault,
    StartEnableFaultCleared,
    StartWithdrawPending,
)
from edge.vehicle.snapshot import ActuatorSnapshot, StartEnableSnapshot
from edge.vehicle.states import StartEnableState

ENABLED = Position(StartEnableState.ENABLED, StartEnableState.ENABLING, "start_enable")
DISABLED = Position(StartEnableState.DISABLED, StartEnableState.DISABLING, "start_disable")
WITHDRAW_PENDING = StartEnableState.WITHDRAW_PENDING


class StartEnable(Actuator[StartEnableState]):
    fault_event: ClassVar[type[ActuatorFault]] = StartEnableFault
    cleared_event: ClassVar[type[ActuatorFaultCleared]] = StartEnableFaultCleared

    def __init__(
        self,
        outbox: list[Intent],
        command_timeout_s: float,
        command_retries: int,
        *,
        has_status: bool = True,
    ) -> None:
        self.engine_running: bool | None = None
        super().__init__(
            "start_enable",
            StartEnableState,
            (ENABLED, DISABLED),
            outbox,
            command_timeout_s,
            command_retries,
            has_status=has_status,
        )

    @property
    def enabled(self) -> bool | None:
        """The last state the bus has shown (without a status on the bus: the last one
        commanded)."""
        return None if self.shown is None else self.shown == ENABLED

    @property
    def withdraw_pending(self) -> bool:
        return self.state == WITHDRAW_PENDING

    def bus_status(self, start_enabled: bool | None) -> None:
        self.bus_shows(
            None if start_enabled is None else (ENABLED if start_enabled else DISABLED).state
        )

    def engine_seen(self, running: bool | None) -> None:
        self.engine_running = running
        if self.withdraw_pending and self._engine_stopped():
            self._request(DISABLED)
            self._dispatch("engine_stopped")

    def cancel_withdrawal(self) -> None:
        """Drops a pending withdrawal (the renter unlocks again); start enable stays as it is."""
        if self.withdraw_pending:
            self._machine.dispatch("withdrawal_cancelled")

    def snapshot(self) -> StartEnableSnapshot:
        return StartEnableSnapshot(timer_seq=self.timer_seq, withdraw_pending=self.withdraw_pending)

    def restore(self, snapshot: ActuatorSnapshot) -> None:
        super().restore(snapshot)
        if isinstance(snapshot, StartEnableSnapshot) and snapshot.withdraw_pending:
            self.target = DISABLED
            self._machine.set_state(WITHDRAW_PENDING)

    def _trigger_to(self, position: Position[StartEnableState]) -> str:
        # A withdrawal may end DEFERRED: it waits in withdraw_pending for the engine to stop.
        return "withdraw" if position == DISABLED else super()._trigger_to(position)

    def _engine_stopped(self) -> bool:
        return self.engine_running is False

    def _engine_may_run(self) -> bool:
        return not self._engine_stopped()

    def _idle_states(self) -> list[StartEnableState]:
        return [*super()._idle_states(), WITHDRAW_PENDING]

    def _states(self) -> list[StateRow]:
        return [
            *super()._states(),
            StateRow(name=WITHDRAW_PENDING, on_enter=self._announce_pending),
        ]

    def _transitions(self) -> list[TransitionRow]:
        pending, disabling, disabled = WITHDRAW_PENDING, DISABLED.moving, DISABLED.state
        unknown, fault, enabled = StartEnableState.UNKNOWN, StartEnableState.FAULT, ENABLED.state
        idle = [state for state in self._idle_states() if state != pending]
        return [
            # Ahead of the generic retry: a retry never sends the withdrawal to a running engine.
            transition(
                "time_out",
                disabling,
                pending,
                conditions=[self._may_retry, self._engine_may_run],
                after=self._defer,
            ),
            *super()._transitions(),
            transition(
                "withdraw",
                [*idle, pending],
                disabled,
                conditions=self._shows(DISABLED),
                after=self._reached,
            ),
            transition("withdraw", idle, disabling, conditions=self._engine_stopped),
            transition("withdraw", idle, pending, after=self._defer),
            transition("withdraw", pending, None, after=self._defer),
            transition("engine_stopped", pending, disabling),
            transition("withdrawal_cancelled", pending, fault, conditions=self._is_faulted),
            transition("withdrawal_cancelled", pending, enabled, conditions=self._shows(ENABLED)),
            transition("withdrawal_cancelled", pending, disabled, conditions=self._shows(DISABLED)),
            transition("withdrawal_cancelled", pending, unknown),
            transition("show_disabled", pending, disabled, after=self._reached),
            transition("show_enabled", pending, None),
            transition("show_nothing", pending, None),
        ]

    def _is_faulted(self) -> bool:
        return self.faulted

    def _defer(self) -> None:
        self.outcome = Outcome.DEFERRED

    def _announce_pending(self) -> None:
        engine: Literal["running", "unknown"] = (
            "unknown" if self.engine_running is None else "running"
        )
        self._outbox.append(RaiseEvent(StartWithdrawPending(engine=engine)))
