"""What the adapter feeds the parking controller: the ground lock's status and events, the
outcomes of the RAISE/LOWER requests it carried out, timers and commands."""

from dataclasses import dataclass
from typing import Literal

from edge.commands.reply import FailureCode
from edge.intents import TimerFired
from firmware_protocol.slotboard import GroundLockFault, Position

Occupied = Literal["occupied"]
"""The board refused RAISE with NAK OCCUPIED (or the sensor saw a car just before it)."""


@dataclass(frozen=True)
class LockStatus:
    """GET_GROUND_LOCK: the arm, the occupancy sensor and the fault bits."""

    position: Position
    car_present: bool
    faults: GroundLockFault


@dataclass(frozen=True)
class PositionChanged:
    position: Position


@dataclass(frozen=True)
class OccupancyChanged:
    car_present: bool


@dataclass(frozen=True)
class GroundLockFaultChanged:
    """The whole new set of fault bits."""

    faults: GroundLockFault


@dataclass(frozen=True)
class RaiseDone:
    """The board accepted RAISE; `position` is the one in its response (moving, or raised)."""

    position: Position


@dataclass(frozen=True)
class RaiseFailed:
    """No response (hardware_timeout), a NAK (hardware_fault), or the NAK OCCUPIED."""

    code: FailureCode | Occupied


@dataclass(frozen=True)
class LowerDone:
    position: Position


@dataclass(frozen=True)
class LowerFailed:
    code: FailureCode


@dataclass(frozen=True)
class Lower:
    command_id: str
    order_id: str


@dataclass(frozen=True)
class Raise:
    command_id: str
    order_id: str


@dataclass(frozen=True)
class InstallerMove:
    """An installer grant's test raise or lower; `command_id` is the grant's id."""

    command_id: str
    direction: Literal["raise", "lower"]


Command = Lower | Raise | InstallerMove
Report = LockStatus | PositionChanged | OccupancyChanged | GroundLockFaultChanged
Outcome = RaiseDone | RaiseFailed | LowerDone | LowerFailed
ParkingInput = Report | Outcome | TimerFired | Command
