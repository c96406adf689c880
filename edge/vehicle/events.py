"""The events the vehicle publishes on `events` (contract section 2): faults and state changes
worth a human's eye."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from edge.wire.fields import EventBody


class ServiceChanged(EventBody):
    """set_service took the car out of service, or put it back."""

    event_type: ClassVar[str] = "service_changed"
    fault: ClassVar[bool] = False

    in_service: bool = Field(description="The car takes new rentals.")
    reason: str = Field(description="The reason set_service gave; may be empty.")


class RentalEndFailed(EventBody):
    """An accepted end_rental did not end the rental: it goes on."""

    event_type: ClassVar[str] = "rental_end_failed"
    fault: ClassVar[bool] = True

    order_id: str = Field(description="The order of the rental.")
    reason: str = Field(description="What went wrong, and the rental's state now.")


class StartWithdrawPending(EventBody):
    """Start enable is to be withdrawn, but the engine may run: the withdrawal waits until
    the bus shows the engine stopped."""

    event_type: ClassVar[str] = "start_withdraw_pending"
    fault: ClassVar[bool] = False

    engine: Literal["running", "unknown"] = Field(
        description="The engine as the bus shows it: running, or not known."
    )


class ActuatorFault(EventBody):
    """An actuator did not reach the position commanded: every frame sent timed out."""

    target: str = Field(description="The position commanded.")
    frames_sent: int = Field(ge=1, description="Command frames sent, retries included.")
    bus_shows: str = Field(description="The position the bus last showed; unknown if none.")


class ActuatorFaultCleared(EventBody):
    """An actuator in fault reached a position: the bus showed the one commanded, or a later
    command succeeded."""

    state: str = Field(description="The position the bus shows now.")


class LockFault(ActuatorFault):
    """The central lock did not confirm a lock or unlock."""

    event_type: ClassVar[str] = "lock_fault"
    fault: ClassVar[bool] = True

    target: Literal["locked", "unlocked"] = Field(description="The position commanded.")
    bus_shows: Literal["locked", "unlocked", "unknown"] = Field(
        description="The position the bus last showed; unknown if none."
    )


class LockFaultCleared(ActuatorFaultCleared):
    """The central lock is out of fault."""

    event_type: ClassVar[str] = "lock_fault_cleared"
    fault: ClassVar[bool] = False

    state: Literal["locked", "unlocked"] = Field(description="The position the bus shows now.")


class StartEnableFault(ActuatorFault):
    """Start enable did not confirm an enable or a withdrawal."""

    event_type: ClassVar[str] = "start_enable_fault"
    fault: ClassVar[bool] = True

    target: Literal["enabled", "disabled"] = Field(description="The position commanded.")
    bus_shows: Literal["enabled", "disabled", "unknown"] = Field(
        description="The position the bus last showed; unknown if none."
    )


class StartEnableFaultCleared(ActuatorFaultCleared):
    """Start enable is out of fault."""

    event_type: ClassVar[str] = "start_enable_fault_cleared"
    fault: ClassVar[bool] = False

    state: Literal["enabled", "disabled"] = Field(description="The position the bus shows now.")


EVENTS: tuple[type[EventBody], ...] = (
    ServiceChanged,
    RentalEndFailed,
    StartWithdrawPending,
    LockFault,
    LockFaultCleared,
    StartEnableFault,
    StartEnableFaultCleared,
)
