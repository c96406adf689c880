"""Parking ground locks: one motorised arm and one occupancy sensor (PROTOCOL.md section 12)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Self

from .common import EmptyPayload
from .fields import check_range, decode_bool, decode_enum, expect_length


class Position(IntEnum):
    LOWERED = 0
    RAISED = 1
    MOVING = 2
    UNKNOWN = 3


class GroundLockFault(IntFlag):
    MOTOR_STALL = 0x01
    LIMIT_SWITCH = 0x02
    OCCUPANCY_SENSOR = 0x04
    LOW_BATTERY = 0x08
    TAMPER = 0x10


@dataclass(frozen=True)
class GetGroundLockRequest(EmptyPayload):
    """Report the arm, the occupancy sensor and the faults."""


@dataclass(frozen=True)
class GetGroundLockResponse:
    position: Position
    car_present: bool
    faults: GroundLockFault

    def __post_init__(self) -> None:
        check_range(self.faults, 0, 0xFF, "fault bits")

    def encode(self) -> bytes:
        return bytes((self.position, self.car_present, self.faults))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 3, cls.__name__)
        return cls(
            decode_enum(Position, data[0], "position"),
            decode_bool(data[1], "car present"),
            GroundLockFault(data[2]),
        )


@dataclass(frozen=True)
class PositionReport:
    position: Position

    def encode(self) -> bytes:
        return bytes((self.position,))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 1, cls.__name__)
        return cls(decode_enum(Position, data[0], "position"))


@dataclass(frozen=True)
class RaiseRequest(EmptyPayload):
    """Raise the arm; refused (OCCUPIED) while a car stands over it."""


@dataclass(frozen=True)
class RaiseResponse(PositionReport):
    """The raise has started (MOVING), or the arm already was RAISED."""


@dataclass(frozen=True)
class LowerRequest(EmptyPayload):
    """Lower the arm."""


@dataclass(frozen=True)
class LowerResponse(PositionReport):
    """The lowering has started (MOVING), or the arm already was LOWERED."""
