"""The central door lock: an actuator confirmed by the BCM's lock status."""

from typing import ClassVar, Literal

from edge.intents import Intent
from edge.vehicle.actuator import Actuator, Position
from edge.vehicle.events import ActuatorFault, ActuatorFaultCleared, LockFault, LockFaultCleared
from edge.vehicle.states import CentralLockState
from edge.vehicle.telemetry import LockView

LOCKED = Position(CentralLockState.LOCKED, CentralLockState.LOCKING, "lock")
UNLOCKED = Position(CentralLockState.UNLOCKED, CentralLockState.UNLOCKING, "unlock")

_VIEWS: dict[CentralLockState, LockView] = {
    CentralLockState.LOCKED: "locked",
    CentralLockState.UNLOCKED: "unlocked",
    CentralLockState.UNKNOWN: "unknown",
    CentralLockState.FAULT: "fault",
}


class CentralLock(Actuator[CentralLockState]):
    fault_event: ClassVar[type[ActuatorFault]] = LockFault
    cleared_event: ClassVar[type[ActuatorFaultCleared]] = LockFaultCleared

    def __init__(
        self,
        outbox: list[Intent],
        command_timeout_s: float,
        command_retries: int,
        *,
        has_status: bool = True,
    ) -> None:
        super().__init__(
            "lock",
            CentralLockState,
            (LOCKED, UNLOCKED),
            outbox,
            command_timeout_s,
            command_retries,
            has_status=has_status,
        )

    @property
    def lock_view(self) -> LockView:
        """The lock as telemetry and the vehicle check show it: never confirmed on a car that
        shows no lock state ("unknown"; `commanded_view` says what was commanded)."""
        return _VIEWS[self.view] if self.has_status else "unknown"

    @property
    def commanded_view(self) -> Literal["locked", "unlocked"] | None:
        """On a car that shows no lock state: the position last commanded; else None."""
        if self.has_status or self.commanded is None:
            return None
        return "locked" if self.commanded == LOCKED else "unlocked"
