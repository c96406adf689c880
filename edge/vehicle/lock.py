"""The central door lock: an actuator confirmed by the BCM's lock status."""

from typing import ClassVar

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
        self, outbox: list[Intent], command_timeout_s: float, command_retries: int
    ) -> None:
        super().__init__(
            "lock",
            CentralLockState,
            (LOCKED, UNLOCKED),
            outbox,
            command_timeout_s,
            command_retries,
        )

    @property
    def lock_view(self) -> LockView:
        """The lock as telemetry and the vehicle check show it."""
        return _VIEWS[self.view]
