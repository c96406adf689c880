"""Checksums of protected CAN messages (those carrying a rolling counter and a checksum byte).

The checksum is one whole payload byte. It covers both bytes of the 11-bit identifier and
every other byte of the payload, so a frame moved to another id fails the check.

- ``sum8_id_inverted`` (the reference vehicle.dbc):
  ``NOT((id & 0xFF) + (id >> 8) + sum(other payload bytes)) & 0xFF``
- ``xor8_id``: ``(id & 0xFF) XOR (id >> 8) XOR (every other payload byte)``
"""

from collections.abc import Callable
from functools import reduce
from operator import xor

ChecksumAlgorithm = Callable[[int, bytes | bytearray, int], int]
"""(frame id, payload, index of the checksum byte) -> checksum byte."""


def sum8_id_inverted(frame_id: int, data: bytes | bytearray, index: int) -> int:
    total = (frame_id & 0xFF) + (frame_id >> 8) + sum(data) - data[index]
    return ~total & 0xFF


def xor8_id(frame_id: int, data: bytes | bytearray, index: int) -> int:
    return reduce(xor, data, (frame_id & 0xFF) ^ (frame_id >> 8)) ^ data[index]


ALGORITHMS: dict[str, ChecksumAlgorithm] = {
    "sum8_id_inverted": sum8_id_inverted,
    "xor8_id": xor8_id,
}
