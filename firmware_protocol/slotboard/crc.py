"""CRC-16/MODBUS, the checksum of every slot-board frame (PROTOCOL.md section 4).

Polynomial 0x8005 reflected (0xA001), initial value 0xFFFF, input and output reflected,
no final XOR. Its check value, the CRC of the ASCII bytes "123456789", is 0x4B37.
"""

from __future__ import annotations

CRC16_CHECK = 0x4B37


def _build_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _build_table()


def crc16_modbus(data: bytes | bytearray | memoryview) -> int:
    """The CRC-16/MODBUS of `data`."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc
