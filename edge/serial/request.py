"""A board request as the boxes send it: the link's request with the BUSY retries, its failures
told as the contract's hardware codes.

`actuate(link, address, request)` returns the board's response payload, or raises ONE exception,
`BoardRequestFailed`, whatever went wrong:

- `code` is the reply code the box answers the command with: `hardware_timeout` when the board
  did not answer (LinkTimeout: every attempt unanswered; LinkDown: the port is not open or was
  lost), `hardware_fault` when it refused (BoardNak), BUSY included once the retries are spent.
- `nak` is the board's error code when it refused (None when it did not answer), so a caller can
  say otherwise for one code (the parking box: a RAISE refused OCCUPIED is `not_allowed`) and
  tell "may have been carried out" (no answer: read the board) from "not carried out" (a NAK).
- `reason` is the link's message, for the log; `__cause__` is the link's exception.

A board answering NAK BUSY did nothing (its latch or arm is moving, PROTOCOL.md section 9): the
request is sent again as a new request (a new seq), at most BUSY_ATTEMPTS times in all, with
BUSY_RETRY_S between them. Any other NAK is final at once; the link itself already resent the
frame of an unanswered request (PROTOCOL.md section 6).
"""

from __future__ import annotations

import asyncio

from edge.commands.reply import FailureCode
from edge.serial.errors import BoardNak, LinkDown, LinkTimeout, SerialLinkError
from edge.serial.link import SlotBoardLink
from firmware_protocol.slotboard import ErrorCode, Payload

BUSY_ATTEMPTS = 3
"""Requests sent in all while the board answers BUSY, the first one included."""
BUSY_RETRY_S = 0.1
"""The pause before a request refused BUSY is sent again."""


class BoardRequestFailed(SerialLinkError):
    """The board did not carry out the request: `code` to reply with, `nak` the board's error
    code when it refused (None: no answer), `reason` for the log."""

    def __init__(self, code: FailureCode, reason: str, nak: ErrorCode | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.nak = nak

    @property
    def answered(self) -> bool:
        """The board answered (with a refusal): it did nothing. Otherwise it may have."""
        return self.nak is not None


async def actuate(link: SlotBoardLink, address: int, request: Payload) -> Payload:
    """Send `request` to the board at `address`; its response, or BoardRequestFailed."""
    attempt = 1
    while True:
        try:
            return await link.request(address, request)
        except (LinkTimeout, LinkDown) as error:
            raise BoardRequestFailed(FailureCode.HARDWARE_TIMEOUT, str(error)) from error
        except BoardNak as nak:
            if nak.code is not ErrorCode.BUSY or attempt >= BUSY_ATTEMPTS:
                raise BoardRequestFailed(FailureCode.HARDWARE_FAULT, str(nak), nak.code) from nak
        attempt += 1
        await asyncio.sleep(BUSY_RETRY_S)
