"""The slot-board codec's exceptions, and the error codes a board answers with in a NAK."""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """Why a board refused a request: byte 1 of a NAK payload (PROTOCOL.md section 9)."""

    BAD_CRC = 0x01
    UNKNOWN_COMMAND = 0x02
    BAD_LENGTH = 0x03
    BAD_VALUE = 0x04
    BAD_SLOT = 0x05
    BUSY = 0x06
    HARDWARE_FAULT = 0x07
    NO_BANK = 0x08
    OCCUPIED = 0x09


class ProtocolError(ValueError):
    """Anything the slot-board codec refuses to read or to write."""


class InvalidFrame(ProtocolError):
    """Bytes that are not a frame, or a frame that cannot be put on the wire."""


class IncompleteFrame(InvalidFrame):
    """The bytes so far are the start of a frame, but it needs more."""

    def __init__(self, message: str, needed: int) -> None:
        super().__init__(message)
        self.needed = needed


class CrcError(InvalidFrame):
    """A whole frame arrived, but its CRC does not match its contents."""

    def __init__(self, received: int, computed: int) -> None:
        super().__init__(f"CRC {received:#06x} received, {computed:#06x} computed")
        self.received = received
        self.computed = computed


class InvalidPayload(ProtocolError):
    """A payload that does not fit its command; `code` is what a board NAKs it with."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.BAD_VALUE) -> None:
        super().__init__(message)
        self.code = code


class UnknownCommand(InvalidPayload):
    """A command code this board kind does not have."""

    def __init__(self, command: int) -> None:
        super().__init__(f"unknown command {command:#04x}", ErrorCode.UNKNOWN_COMMAND)
        self.command = command


class NotAnAnswer(ProtocolError):
    """A frame that does not answer the request it was matched against."""
