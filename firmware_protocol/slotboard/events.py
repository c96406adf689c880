"""Events a board queues for the box, and GET_EVENTS / ACK_EVENTS that carry and clear them.

A queued event on the wire (PROTOCOL.md section 8):

    offset  size  field
    0       2     event seq, little-endian, per board, +1 for each queued event
    2       1     event type
    3       1     n, the length of the event data
    4       n     event data
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Protocol, Self

from .cabinet import LockState, SlotFault
from .common import EmptyPayload
from .errors import ErrorCode, InvalidPayload
from .fields import (
    BANK_ID_SIZE,
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
from .frame import MAX_PAYLOAD
from .parking import GroundLockFault, Position


class EventType(IntEnum):
    BOARD_RESET = 0x01
    BANK_INSERTED = 0x02
    BANK_REMOVED = 0x03
    LOCK_CHANGED = 0x04
    SLOT_FAULT_CHANGED = 0x05
    POSITION_CHANGED = 0x10
    OCCUPANCY_CHANGED = 0x11
    GROUND_LOCK_FAULT_CHANGED = 0x12


class ResetReason(IntEnum):
    POWER_ON = 0
    WATCHDOG = 1
    BROWN_OUT = 2
    SOFTWARE = 3


class EventBody(Protocol):
    """An event's type code and the codec of its data."""

    @property
    def type_code(self) -> int: ...

    def encode(self) -> bytes: ...


@dataclass(frozen=True)
class KnownEvent:
    TYPE: ClassVar[EventType]

    @property
    def type_code(self) -> int:
        return int(self.TYPE)


@dataclass(frozen=True)
class BoardReset(KnownEvent):
    """The board (re)started: its event seq and its remembered request start afresh."""

    reason: ResetReason
    TYPE: ClassVar[EventType] = EventType.BOARD_RESET

    def encode(self) -> bytes:
        return bytes((self.reason,))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 1, cls.__name__)
        return cls(decode_enum(ResetReason, data[0], "reset reason"))


@dataclass(frozen=True)
class BankInserted(KnownEvent):
    """A bank was pushed into a slot and latched; its id is None when unreadable."""

    slot: int
    bank_id: str | None
    charge_pct: int | None
    TYPE: ClassVar[EventType] = EventType.BANK_INSERTED

    def __post_init__(self) -> None:
        check_slot(self.slot)
        check_bank_id(self.bank_id)
        check_charge(self.charge_pct)

    def encode(self) -> bytes:
        return (
            bytes((self.slot,))
            + encode_bank_id(self.bank_id)
            + bytes((encode_charge(self.charge_pct),))
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 2 + BANK_ID_SIZE, cls.__name__)
        return cls(data[0], decode_bank_id(data[1:-1]), decode_charge(data[-1]))


@dataclass(frozen=True)
class BankRemoved(KnownEvent):
    """A bank left its slot; `forced` when the latch was locked (never ejected)."""

    slot: int
    forced: bool
    TYPE: ClassVar[EventType] = EventType.BANK_REMOVED

    def __post_init__(self) -> None:
        check_slot(self.slot)

    def encode(self) -> bytes:
        return bytes((self.slot, self.forced))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 2, cls.__name__)
        return cls(data[0], decode_bool(data[1], "forced"))


@dataclass(frozen=True)
class LockChanged(KnownEvent):
    """A slot's latch reached a new state, as its sensor reports it."""

    slot: int
    lock: LockState
    TYPE: ClassVar[EventType] = EventType.LOCK_CHANGED

    def __post_init__(self) -> None:
        check_slot(self.slot)

    def encode(self) -> bytes:
        return bytes((self.slot, self.lock))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 2, cls.__name__)
        return cls(data[0], decode_enum(LockState, data[1], "lock state"))


@dataclass(frozen=True)
class SlotFaultChanged(KnownEvent):
    """A slot's fault bits changed; `faults` is the whole new set (0 when all cleared)."""

    slot: int
    faults: SlotFault
    TYPE: ClassVar[EventType] = EventType.SLOT_FAULT_CHANGED

    def __post_init__(self) -> None:
        check_slot(self.slot)
        check_range(self.faults, 0, 0xFF, "fault bits")

    def encode(self) -> bytes:
        return bytes((self.slot, self.faults))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 2, cls.__name__)
        return cls(data[0], SlotFault(data[1]))


@dataclass(frozen=True)
class PositionChanged(KnownEvent):
    """The ground lock's arm reached (or left) a position."""

    position: Position
    TYPE: ClassVar[EventType] = EventType.POSITION_CHANGED

    def encode(self) -> bytes:
        return bytes((self.position,))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 1, cls.__name__)
        return cls(decode_enum(Position, data[0], "position"))


@dataclass(frozen=True)
class OccupancyChanged(KnownEvent):
    """The occupancy sensor saw a car arrive or leave."""

    car_present: bool
    TYPE: ClassVar[EventType] = EventType.OCCUPANCY_CHANGED

    def encode(self) -> bytes:
        return bytes((self.car_present,))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 1, cls.__name__)
        return cls(decode_bool(data[0], "car present"))


@dataclass(frozen=True)
class GroundLockFaultChanged(KnownEvent):
    """The ground lock's fault bits changed; `faults` is the whole new set."""

    faults: GroundLockFault
    TYPE: ClassVar[EventType] = EventType.GROUND_LOCK_FAULT_CHANGED

    def __post_init__(self) -> None:
        check_range(self.faults, 0, 0xFF, "fault bits")

    def encode(self) -> bytes:
        return bytes((self.faults,))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 1, cls.__name__)
        return cls(GroundLockFault(data[0]))


@dataclass(frozen=True)
class UnknownEvent:
    """An event of a type this codec does not know, kept so the box can still ack it."""

    type_code: int
    data: bytes

    def __post_init__(self) -> None:
        check_range(self.type_code, 0, 0xFF, "event type")
        if self.type_code in _EVENT_CLASSES:
            raise InvalidPayload(f"event type {self.type_code:#04x} is known")
        check_range(len(self.data), 0, 0xFF, "event data length")

    def encode(self) -> bytes:
        return self.data


KnownEvents = (
    BoardReset
    | BankInserted
    | BankRemoved
    | LockChanged
    | SlotFaultChanged
    | PositionChanged
    | OccupancyChanged
    | GroundLockFaultChanged
)
Event = KnownEvents | UnknownEvent

_EVENT_CLASSES: dict[int, type[KnownEvents]] = {
    cls.TYPE: cls
    for cls in (
        BoardReset,
        BankInserted,
        BankRemoved,
        LockChanged,
        SlotFaultChanged,
        PositionChanged,
        OccupancyChanged,
        GroundLockFaultChanged,
    )
}

_EVENT_HEADER = struct.Struct("<HBB")


@dataclass(frozen=True)
class QueuedEvent:
    """An event with the seq the board gave it when it queued it."""

    seq: int
    event: Event

    def __post_init__(self) -> None:
        check_range(self.seq, 0, 0xFFFF, "event seq")

    @property
    def size(self) -> int:
        return _EVENT_HEADER.size + len(self.event.encode())

    def encode(self) -> bytes:
        data = self.event.encode()
        return _EVENT_HEADER.pack(self.seq, self.event.type_code, len(data)) + data


def decode_events(data: bytes) -> tuple[QueuedEvent, ...]:
    """The queued events packed one after another in `data`."""
    events = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _EVENT_HEADER.size:
            raise InvalidPayload("event header cut short", ErrorCode.BAD_LENGTH)
        seq, type_code, length = _EVENT_HEADER.unpack_from(data, offset)
        offset += _EVENT_HEADER.size
        body = data[offset : offset + length]
        if len(body) != length:
            raise InvalidPayload("event data cut short", ErrorCode.BAD_LENGTH)
        offset += length
        cls = _EVENT_CLASSES.get(type_code)
        event = UnknownEvent(type_code, body) if cls is None else cls.decode(body)
        events.append(QueuedEvent(seq, event))
    return tuple(events)


@dataclass(frozen=True)
class GetEventsRequest(EmptyPayload):
    """Send me your oldest queued events; they stay queued until acknowledged."""


@dataclass(frozen=True)
class GetEventsResponse:
    """The oldest queued events, `pending` more still queued behind them.

    `overflow`: events were lost because the queue was full; the box re-reads the status.
    """

    pending: int
    overflow: bool
    events: tuple[QueuedEvent, ...]

    HEADER_SIZE: ClassVar[int] = 2

    def __post_init__(self) -> None:
        check_range(self.pending, 0, 0xFF, "pending count")
        size = self.HEADER_SIZE + sum(event.size for event in self.events)
        if size > MAX_PAYLOAD:
            raise InvalidPayload(
                f"{size} bytes of events exceed {MAX_PAYLOAD}", ErrorCode.BAD_LENGTH
            )

    def encode(self) -> bytes:
        return bytes((self.pending, self.overflow)) + b"".join(e.encode() for e in self.events)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        if len(data) < cls.HEADER_SIZE:
            raise InvalidPayload(f"{cls.__name__} takes at least 2 bytes", ErrorCode.BAD_LENGTH)
        return cls(data[0], decode_bool(data[1], "overflow"), decode_events(data[2:]))


@dataclass(frozen=True)
class AckEventsRequest:
    """Drop the queued event with this seq and every event queued before it."""

    seq: int

    def __post_init__(self) -> None:
        check_range(self.seq, 0, 0xFFFF, "event seq")

    def encode(self) -> bytes:
        return self.seq.to_bytes(2, "little")

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 2, cls.__name__)
        return cls(int.from_bytes(data, "little"))


@dataclass(frozen=True)
class AckEventsResponse:
    """How many events are still queued after the acknowledgement."""

    pending: int

    def __post_init__(self) -> None:
        check_range(self.pending, 0, 0xFF, "pending count")

    def encode(self) -> bytes:
        return bytes((self.pending,))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 1, cls.__name__)
        return cls(data[0])
