"""The central door lock: an actuator confirmed by the BCM's lock status."""

from edge.vehicle.actuator import Actuator, Position
from edge.vehicle.intents import Intent

LOCKED = Position("locked", "locking", "lock")
UNLOCKED = Position("unlocked", "unlocking", "unlock")


class CentralLock(Actuator):
    def __init__(
        self, outbox: list[Intent], command_timeout_s: float, command_retries: int
    ) -> None:
        super().__init__("lock", (LOCKED, UNLOCKED), outbox, command_timeout_s, command_retries)
