"""What the adapter feeds the parking controller: the ground lock's status and events, the
outcomes of the RAISE/LOWER requests it carried out, timers and commands."""

from dataclasses import dataclass
from typing import Literal

from edge.clock import Now as Now  # the time an event is handled at; mono runs across restarts
from edge.intents import TimerFired as TimerFired
from firmware_protocol.slotboard import GroundLockFault, Position

HardwareCode = Literal["hardware_timeout", "hardware_fault"]


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

    code: HardwareCode | Literal["occupied"]


@dataclass(frozen=True)
class LowerDone:
    position: Position


@dataclass(frozen=True)
class LowerFailed:
    code: HardwareCode


@dataclass(frozen=True)
class Lower:
    command_id: str
    order_id: str


@dataclass(frozen=True)
class Raise:
    command_id: str
    order_id: str


Command = Lower | Raise
Report = LockStatus | PositionChanged | OccupancyChanged | GroundLockFaultChanged
Outcome = RaiseDone | RaiseFailed | LowerDone | LowerFailed
ParkingEvent = Report | Outcome | TimerFired | Command
