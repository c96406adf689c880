"""What every board kind shares: the payload shape, GET_INFO and the NAK."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Protocol, Self

from .errors import ErrorCode
from .fields import MAX_SLOTS, check_range, decode_enum, expect_length
from .frame import MAX_COMMAND

PROTOCOL_VERSION = 1


class Payload(Protocol):
    """A typed payload: `encode()` to the bytes of a frame's payload, `decode()` back."""

    def encode(self) -> bytes: ...

    @classmethod
    def decode(cls, data: bytes) -> Self: ...


class BoardKind(IntEnum):
    CABINET = 1
    PARKING = 2


@dataclass(frozen=True)
class EmptyPayload:
    """A payload of no bytes."""

    def encode(self) -> bytes:
        return b""

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 0, cls.__name__)
        return cls()


@dataclass(frozen=True)
class GetInfoRequest(EmptyPayload):
    """Who are you? Also opens a session: the board forgets its remembered request."""


@dataclass(frozen=True)
class GetInfoResponse:
    protocol_version: int
    kind: BoardKind
    slot_count: int
    firmware_version: int
    crc_errors: int

    _LAYOUT: ClassVar[struct.Struct] = struct.Struct("<BBBHH")

    def __post_init__(self) -> None:
        check_range(self.protocol_version, 0, 0xFF, "protocol version")
        check_range(self.slot_count, 0, MAX_SLOTS, "slot count")
        check_range(self.firmware_version, 0, 0xFFFF, "firmware version")
        check_range(self.crc_errors, 0, 0xFFFF, "CRC error count")

    def encode(self) -> bytes:
        return self._LAYOUT.pack(
            self.protocol_version,
            self.kind,
            self.slot_count,
            self.firmware_version,
            self.crc_errors,
        )

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, cls._LAYOUT.size, cls.__name__)
        version, kind, slot_count, firmware, crc_errors = cls._LAYOUT.unpack(data)
        return cls(
            version, decode_enum(BoardKind, kind, "board kind"), slot_count, firmware, crc_errors
        )


@dataclass(frozen=True)
class Nak:
    """The board refused the request whose command code is `command`, for `code`."""

    command: int
    code: ErrorCode

    def __post_init__(self) -> None:
        check_range(self.command, 0, MAX_COMMAND, "rejected command")

    def encode(self) -> bytes:
        return bytes((self.command, self.code))

    @classmethod
    def decode(cls, data: bytes) -> Self:
        expect_length(data, 2, cls.__name__)
        return cls(data[0], decode_enum(ErrorCode, data[1], "error code"))
