"""The `result` of the vehicle's replies (contract section 3). end_rental's result is the
`rental_ended` record as written (edge/vehicle/records.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.vehicle.telemetry import RentalView
from edge.wire.fields import ReplyResult


class StartRentalResult(ReplyResult):
    """start_rental: the car is booked for the order."""

    order_id: str = Field(description="The order the car is booked for.")
    rental: Literal["booked"] = Field(description="The rental's state now.")


AsCommanded = Literal["lock", "start_enabled"]

_AS_COMMANDED = (
    "The fields that are what the box commanded, not confirmed on the bus: this car shows "
    "no such status. Empty when the bus confirmed everything."
)


class UnlockResult(ReplyResult):
    """unlock: the central lock is open and start enable on."""

    lock: Literal["unlocked"] = Field(
        description="The central lock, as confirmed on the bus (or as commanded: as_commanded)."
    )
    start_enabled: Literal[True] | None = Field(
        description="Start enable, as confirmed on the bus (or as commanded); null on a car "
        "whose profile has no start-enable command."
    )
    rental: RentalView = Field(description="The rental's state now (active from the first).")
    as_commanded: list[AsCommanded] = Field(default_factory=list, description=_AS_COMMANDED)


class LockResult(ReplyResult):
    """lock: the central lock is closed; start enable withdrawn, or its withdrawal pending
    until the engine stops."""

    lock: Literal["locked"] = Field(
        description="The central lock, as confirmed on the bus (or as commanded: as_commanded)."
    )
    start_enabled: bool | None = Field(
        description="Start enable as last shown on the bus; null when not shown."
    )
    start_withdraw_pending: bool = Field(description="The withdrawal waits for the engine to stop.")
    as_commanded: list[AsCommanded] = Field(default_factory=list, description=_AS_COMMANDED)


class SetServiceResult(ReplyResult):
    """set_service: the service hold as it is now."""

    in_service: bool = Field(description="The car takes new rentals.")


class LockPulseResult(ReplyResult):
    """test_lock_pulse: the central lock is where the installer grant asked."""

    action: Literal["lock", "unlock"] = Field(description="As asked.")
    lock: Literal["locked", "unlocked"] = Field(
        description="The central lock, as confirmed on the bus (or as commanded: as_commanded)."
    )
    as_commanded: list[AsCommanded] = Field(default_factory=list, description=_AS_COMMANDED)


RESULTS: tuple[type[ReplyResult], ...] = (
    StartRentalResult,
    UnlockResult,
    LockResult,
    SetServiceResult,
    LockPulseResult,
)
