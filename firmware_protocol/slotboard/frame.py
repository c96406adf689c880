"""The slot-board frame: start byte, address, sequence number, command, length, payload, CRC.

offset  size  field
0       1     START (0xA5)
1       1     address: the board's, in a request and in its response; 0x00 broadcast
2       1     seq: chosen by the box, echoed in the response
3       1     command: bits 0-6 the code, bit 7 set in a response
4       1     length of the payload, 0..MAX_PAYLOAD
5       n     payload
5+n     2     CRC-16/MODBUS of bytes 1 .. 4+n, low byte first
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from .crc import crc16_modbus
from .errors import CrcError, IncompleteFrame, InvalidFrame

START = 0xA5
HEADER_SIZE = 5
CRC_SIZE = 2
MAX_PAYLOAD = 240
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
RESPONSE_BIT = 0x80
MAX_COMMAND = 0x7F
BROADCAST = 0x00
MAX_ADDRESS = 0xF7


@dataclass(frozen=True)
class Frame:
    """One frame on the line, request (`response` false) or response (`response` true)."""

    address: int
    seq: int
    command: int
    payload: bytes = b""
    response: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 0xFF:
            raise InvalidFrame(f"address {self.address} is not a byte")
        if not 0 <= self.seq <= 0xFF:
            raise InvalidFrame(f"seq {self.seq} is not a byte")
        if not 0 <= self.command <= MAX_COMMAND:
            raise InvalidFrame(f"command {self.command} is outside 0..{MAX_COMMAND:#04x}")
        if len(self.payload) > MAX_PAYLOAD:
            raise InvalidFrame(f"payload of {len(self.payload)} bytes exceeds {MAX_PAYLOAD}")

    @property
    def size(self) -> int:
        """How many bytes the frame takes on the wire."""
        return HEADER_SIZE + len(self.payload) + CRC_SIZE

    def serialize(self) -> bytes:
        command = self.command | (RESPONSE_BIT if self.response else 0)
        body = bytes((self.address, self.seq, command, len(self.payload))) + self.payload
        return bytes((START,)) + body + crc16_modbus(body).to_bytes(CRC_SIZE, "little")

    @classmethod
    def deserialize(cls, data: bytes) -> tuple[Self, bytes]:
        """The frame at the start of `data`, and the bytes after it.

        Raises IncompleteFrame when `data` is a prefix of a frame, CrcError when a whole frame
        fails its CRC, and InvalidFrame when `data` cannot start a frame at all.
        """
        if not data:
            raise IncompleteFrame("no bytes", HEADER_SIZE + CRC_SIZE)
        if data[0] != START:
            raise InvalidFrame(f"starts with {data[0]:#04x}, not the start byte {START:#04x}")
        if len(data) < HEADER_SIZE:
            raise IncompleteFrame("header incomplete", HEADER_SIZE + CRC_SIZE - len(data))
        length = data[4]
        if length > MAX_PAYLOAD:
            raise InvalidFrame(f"length {length} exceeds {MAX_PAYLOAD}")
        end = HEADER_SIZE + length + CRC_SIZE
        if len(data) < end:
            raise IncompleteFrame(f"{end - len(data)} bytes missing", end - len(data))
        received = int.from_bytes(data[end - CRC_SIZE : end], "little")
        computed = crc16_modbus(data[1 : end - CRC_SIZE])
        if received != computed:
            raise CrcError(received, computed)
        frame = cls(
            address=data[1],
            seq=data[2],
            command=data[3] & MAX_COMMAND,
            payload=bytes(data[HEADER_SIZE : end - CRC_SIZE]),
            response=bool(data[3] & RESPONSE_BIT),
        )
        return frame, bytes(data[end:])
