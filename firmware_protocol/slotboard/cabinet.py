"""Cabinet slot boards: up to 16 slots, each a latch, a bank sensor, an id reader, a charger
and an indicator LED (PROTOCOL.md section 11)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar, Self

from .common import EmptyPayload
from .errors import ErrorCode, InvalidPayload
from .fields import (
    BANK_ID_SIZE,
    MAX_SLOTS,
    check_bank_id,
    check_charge,
    check_range,
    check_slot,
    decode_bank_id,
    decode_bool,
    decode_charge,
    decode_enum,
    encode_bank_id,
    encode_charge,
    expect_length,
)


class LockState(IntEnum):
    UNLOCKED = 0
    LOCKED = 1
    UNKNOWN = 2


class SlotFault(IntFlag):
    LOCK_STUCK = 0x01
    SENSOR_DISAGREE = 0x02
    OVERTEMP = 0x04
    CHARGER_FAULT = 0x08
    ID_UNREADABLE = 0x10


class Colour(IntEnum):
    OFF = 0
    RED = 1
    GREEN = 2
    BLUE = 3
    YELLOW = 4
    WHITE = 5


class Pattern(IntEnum):
    STEADY = 0
    BLINK_SLOW = 1
    BLINK_FAST = 2


_BANK_PRESENT = 0x01
_CHARGING = 0x02


@dataclass(frozen=True)
class SlotStatus:
    """One slot as GET_SLOTS reports it; with no bank, no id, no charge and no charging."""

    lock: LockState
    bank_present: bool
    bank_id: str | None
    charge_pct: int | None
    charging: bool
    faults: SlotFault

    SIZE: ClassVar[int] = 4 + BANK_ID_SIZE

    def __post_init__(self) -> None:
        check_bank_id(self.bank_id)
        check_charge(self.charge_pct)
        check_range(self.faults, 0, 0xFF, "fault bits")
        if not self.bank_present and (
            self.bank_id is not None or self.charge_pct is not None or self.charging
        ):
            raise InvalidPayload("an empty slot has no bank id, charge or charging")

    def encode(self) -> bytes:
        flags = (_BANK_PRESENT if self.bank_present else 0) | (_CHARGING if self.charging else 0)
        return (
            bytes((self.lock, flags))
            + encode_bank_id(self.bank_id)
            + bytes((encode_charge(self.charge_pct), self.faults))
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, cls.SIZE, cls.__name__)
        flags = data[1]
        return cls(
            lock=decode_enum(LockState, data[0], "lock state"),
            bank_present=bool(flags & _BANK_PRESENT),
            bank_id=decode_bank_id(data[2 : 2 + BANK_ID_SIZE]),
            charge_pct=decode_charge(data[2 + BANK_ID_SIZE]),
            charging=bool(flags & _CHARGING),
            faults=SlotFault(data[3 + BANK_ID_SIZE]),
        )


@dataclass(frozen=True)
class GetSlotsRequest(EmptyPayload):
    """Report every slot."""


@dataclass(frozen=True)
class GetSlotsResponse:
    """Every slot of the board in order: `slots[0]` is slot 1."""

    slots: tuple[SlotStatus, ...]

    def __post_init__(self) -> None:
        check_range(len(self.slots), 1, MAX_SLOTS, "slot count")

    def encode(self) -> bytes:
        return bytes((len(self.slots),)) + b"".join(slot.encode() for slot in self.slots)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        if not data:
            raise InvalidPayload(f"{cls.__name__} is empty", ErrorCode.BAD_LENGTH)
        expect_length(data, 1 + data[0] * SlotStatus.SIZE, cls.__name__)
        size = SlotStatus.SIZE
        return cls(tuple(SlotStatus.decode(data[i : i + size]) for i in range(1, len(data), size)))


@dataclass(frozen=True)
class SlotNumber:
    slot: int

    def __post_init__(self) -> None:
        check_slot(self.slot)

    def encode(self) -> bytes:
        return bytes((self.slot,))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 1, cls.__name__)
        return cls(data[0])


@dataclass(frozen=True)
class SlotLock:
    slot: int
    lock: LockState

    def __post_init__(self) -> None:
        check_slot(self.slot)

    def encode(self) -> bytes:
        return bytes((self.slot, self.lock))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 2, cls.__name__)
        return cls(data[0], decode_enum(LockState, data[1], "lock state"))


@dataclass(frozen=True)
class EjectRequest(SlotNumber):
    """Release the latch and push the bank out; done once per seq, never twice."""


@dataclass(frozen=True)
class EjectResponse(SlotLock):
    """The eject has started; `lock` is the latch state as the sensor reads it now."""


@dataclass(frozen=True)
class LockSlotRequest(SlotNumber):
    """Close the latch (a bank ejected but not taken goes back in)."""


@dataclass(frozen=True)
class LockSlotResponse(SlotLock):
    """`lock` is the latch state as the sensor reads it after driving it."""


@dataclass(frozen=True)
class SlotCharging:
    slot: int
    on: bool

    def __post_init__(self) -> None:
        check_slot(self.slot, allow_all=True)

    def encode(self) -> bytes:
        return bytes((self.slot, self.on))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 2, cls.__name__)
        return cls(data[0], decode_bool(data[1], "charging"))


@dataclass(frozen=True)
class SetChargingRequest(SlotCharging):
    """Switch a slot's charger (slot ALL_SLOTS: every slot's) on or off."""


@dataclass(frozen=True)
class SetChargingResponse(SlotCharging):
    """Echoes the request once done."""


@dataclass(frozen=True)
class SlotIndicator:
    slot: int
    colour: Colour
    pattern: Pattern

    def __post_init__(self) -> None:
        check_slot(self.slot, allow_all=True)

    def encode(self) -> bytes:
        return bytes((self.slot, self.colour, self.pattern))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 3, cls.__name__)
        return cls(
            data[0],
            decode_enum(Colour, data[1], "colour"),
            decode_enum(Pattern, data[2], "pattern"),
        )


@dataclass(frozen=True)
class SetIndicatorRequest(SlotIndicator):
    """Set a slot's LED (slot ALL_SLOTS: every slot's)."""


@dataclass(frozen=True)
class SetIndicatorResponse(SlotIndicator):
    """Echoes the request once done."""
