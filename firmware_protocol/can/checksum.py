"""Checksums of protected CAN messages (those carrying a rolling counter and a checksum byte).

The checksum is one whole payload byte, computed over every other byte of the payload:

- ``sum8_id_inverted`` (the reference vehicle.dbc):
  ``NOT((id & 0xFF) + (id >> 8) + sum(other payload bytes)) & 0xFF``
- ``xor8_id``: ``(id & 0xFF) XOR (id >> 8) XOR (every other payload byte)``
- ``xor8``: the XOR of every other payload byte (Volkswagen PQ).
- ``toyota_sum8``: ``(length + (id & 0xFF) + (id >> 8) + sum(other payload bytes)) & 0xFF``
  (Toyota and Lexus).
- ``autosar_e2e_p2_crc8h2f``: AUTOSAR E2E profile 2 (Volkswagen MQB and MEB): CRC-8 with
  polynomial 0x2F, initial value 0xFF and final XOR 0xFF over every other payload byte and then
  the message's data ID for the frame's counter value. The profile lists the message's data IDs
  (`data_ids`: 16, one per counter value, or one for all).
"""

from collections.abc import Callable
from functools import reduce
from operator import xor

ChecksumAlgorithm = Callable[[int, bytes | bytearray, int, int, tuple[int, ...]], int]
"""(frame id, payload, index of the checksum byte, counter, data IDs) -> checksum byte."""

CRC8H2F_POLYNOMIAL = 0x2F


def _crc8_table(polynomial: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ polynomial) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8H2F = _crc8_table(CRC8H2F_POLYNOMIAL)


def crc8h2f(data: bytes | bytearray, crc: int = 0xFF) -> int:
    """CRC-8/AUTOSAR without its final XOR: feed it on, XOR 0xFF at the end."""
    for byte in data:
        crc = _CRC8H2F[crc ^ byte]
    return crc


def sum8_id_inverted(
    frame_id: int, data: bytes | bytearray, index: int, counter: int, data_ids: tuple[int, ...]
) -> int:
    total = (frame_id & 0xFF) + (frame_id >> 8) + sum(data) - data[index]
    return ~total & 0xFF


def xor8_id(
    frame_id: int, data: bytes | bytearray, index: int, counter: int, data_ids: tuple[int, ...]
) -> int:
    return reduce(xor, data, (frame_id & 0xFF) ^ (frame_id >> 8)) ^ data[index]


def xor8(
    frame_id: int, data: bytes | bytearray, index: int, counter: int, data_ids: tuple[int, ...]
) -> int:
    return reduce(xor, data, 0) ^ data[index]


def toyota_sum8(
    frame_id: int, data: bytes | bytearray, index: int, counter: int, data_ids: tuple[int, ...]
) -> int:
    total = len(data) + (frame_id & 0xFF) + (frame_id >> 8) + sum(data) - data[index]
    return total & 0xFF


def autosar_e2e_p2_crc8h2f(
    frame_id: int, data: bytes | bytearray, index: int, counter: int, data_ids: tuple[int, ...]
) -> int:
    crc = crc8h2f(data[:index])
    crc = crc8h2f(data[index + 1 :], crc)
    crc = crc8h2f(bytes((data_ids[counter % len(data_ids)],)), crc)
    return crc ^ 0xFF


ALGORITHMS: dict[str, ChecksumAlgorithm] = {
    "sum8_id_inverted": sum8_id_inverted,
    "xor8_id": xor8_id,
    "xor8": xor8,
    "toyota_sum8": toyota_sum8,
    "autosar_e2e_p2_crc8h2f": autosar_e2e_p2_crc8h2f,
}

NEEDS_DATA_IDS = frozenset({"autosar_e2e_p2_crc8h2f"})
"""Algorithms that take the message's data IDs from the profile."""
