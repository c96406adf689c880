"""What the parking box publishes on `events` (contract section 2): the ground lock's fault
bits as they change, and the lock entering and leaving its fault state."""

from __future__ import annotations

from typing import ClassVar, Literal, cast

from pydantic import Field

from edge.wire.fields import EventBody
from firmware_protocol.slotboard import GroundLockFault as FaultBits
from firmware_protocol.slotboard import Position

FaultName = Literal["motor_stall", "limit_switch", "occupancy_sensor", "low_battery", "tamper"]
"""A ground-lock fault bit (PROTOCOL.md section 12.1), lower case."""
PositionName = Literal["lowered", "raised", "moving", "unknown"]


def fault_names(faults: FaultBits) -> list[FaultName]:
    return [cast(FaultName, str(flag.name).lower()) for flag in FaultBits if flag in faults]


def position_name(position: Position | None) -> PositionName:
    """The arm as last reported; unknown before any report."""
    if position is None:
        return "unknown"
    return cast(PositionName, position.name.lower())


class GroundLockFaults(EventBody):
    """The board's fault bits changed; a fault while any is set, not when they all cleared."""

    event_type: ClassVar[str] = "ground_lock_faults"
    fault: ClassVar[bool] = True

    faults: list[FaultName] = Field(description="Every fault bit now set; empty when none is.")

    def is_fault(self) -> bool:
        return bool(self.faults)


class GroundLockFault(EventBody):
    """The ground lock went into fault: a move that failed or timed out, or a stalled motor or
    bad limit switch."""

    event_type: ClassVar[str] = "ground_lock_fault"
    fault: ClassVar[bool] = True

    reason: str = Field(description="What put the lock in fault.")
    position: PositionName = Field(description="The arm as the board last reported it.")
    faults: list[FaultName] = Field(description="The board's fault bits set at the time.")

    def is_fault(self) -> bool:
        # As since the first release: logged as a fault only with fault bits set (a move that
        # timed out with none is `box.event`).
        return bool(self.faults)


class GroundLockFaultCleared(EventBody):
    """The board reports the arm at a limit with neither blocking fault bit: out of fault."""

    event_type: ClassVar[str] = "ground_lock_fault_cleared"
    fault: ClassVar[bool] = False


EVENTS: tuple[type[EventBody], ...] = (GroundLockFaults, GroundLockFault, GroundLockFaultCleared)
