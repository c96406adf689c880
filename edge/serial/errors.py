"""What can go wrong on the slot-board line, as the boxes see it.

`LinkTimeout` and `BoardNak` are the two ways a board fails a request; the box replies
`failed hardware_timeout` for the first and decides by the NAK's code for the second.
"""

from __future__ import annotations

from firmware_protocol.slotboard import Command, ErrorCode


class SerialLinkError(Exception):
    """Anything the serial link could not do."""


class PortError(SerialLinkError):
    """The serial port cannot be opened, or failed while open."""


class LinkDown(SerialLinkError):
    """The port is not open, or was lost while the request was on the line."""


class LinkTimeout(SerialLinkError):
    """No valid response after every attempt; the board is marked unreachable."""

    def __init__(self, address: int, command: Command, attempts: int) -> None:
        super().__init__(f"board {address}: no answer to {command.name} after {attempts} attempts")
        self.address = address
        self.command = command
        self.attempts = attempts


class BoardNak(SerialLinkError):
    """The board refused the request; `code` says why (PROTOCOL.md section 9)."""

    def __init__(self, address: int, command: Command, code: ErrorCode) -> None:
        super().__init__(f"board {address} refused {command.name}: {code.name}")
        self.address = address
        self.command = command
        self.code = code
