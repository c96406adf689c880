"""Service 0x01 (current data): the PIDs the box reads, their requests and responses.

A response is 0x41 then, for each PID asked for, the PID and its data bytes A, B, C, D:

    PID   name           bytes  value
    0x0C  engine speed   2      (256 A + B) / 4 rpm
    0x0D  vehicle speed  1      A km/h
    0x2F  fuel level     1      100 / 255 A %
    0xA6  odometer       4      (A<<24 | B<<16 | C<<8 | D) / 10 km (hectometres)
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ObdError
from .service import (
    MAX_PIDS_PER_REQUEST,
    POSITIVE_RESPONSE_OFFSET,
    SERVICE_CURRENT_DATA,
    positive_response_data,
)


@dataclass(frozen=True)
class Pid:
    """One PID: `size` bytes big-endian of `raw`, `value = raw * numerator / denominator`."""

    number: int
    name: str
    unit: str
    size: int
    numerator: int = 1
    denominator: int = 1

    def decode(self, data: bytes) -> float:
        return int.from_bytes(data, "big") * self.numerator / self.denominator

    def encode(self, value: float) -> bytes:
        if not math.isfinite(value):
            raise ObdError(f"{self.name} {value} is not a number")
        raw = round(value * self.denominator / self.numerator)
        if not 0 <= raw < 1 << (8 * self.size):
            raise ObdError(f"{self.name} {value} {self.unit} does not fit PID {self.number:#04x}")
        return raw.to_bytes(self.size, "big")


ENGINE_SPEED = Pid(0x0C, "engine_speed", "rpm", 2, denominator=4)
VEHICLE_SPEED = Pid(0x0D, "vehicle_speed", "km/h", 1)
FUEL_LEVEL = Pid(0x2F, "fuel_level", "%", 1, numerator=100, denominator=255)
ODOMETER = Pid(0xA6, "odometer", "km", 4, denominator=10)

PIDS: Mapping[int, Pid] = {
    pid.number: pid for pid in (ENGINE_SPEED, VEHICLE_SPEED, FUEL_LEVEL, ODOMETER)
}


def request_current_data(*pids: int) -> bytes:
    """The request payload asking for `pids` (1 to 6 of them)."""
    if not 1 <= len(pids) <= MAX_PIDS_PER_REQUEST:
        raise ObdError(f"a request asks for 1 to {MAX_PIDS_PER_REQUEST} PIDs, not {len(pids)}")
    if not all(0 <= pid <= 0xFF for pid in pids):
        raise ObdError(f"PIDs are bytes: {pids}")
    return bytes([SERVICE_CURRENT_DATA, *pids])


def _known(number: int) -> Pid:
    try:
        return PIDS[number]
    except KeyError:
        raise ObdError(f"PID {number:#04x} is not one this codec knows") from None


def parse_current_data(payload: bytes) -> dict[int, float]:
    """The values in a service 0x01 response, by PID."""
    data = positive_response_data(payload, SERVICE_CURRENT_DATA)
    if not data:
        raise ObdError("service 0x01 response without a PID")
    values: dict[int, float] = {}
    offset = 0
    while offset < len(data):
        pid = _known(data[offset])
        end = offset + 1 + pid.size
        if end > len(data):
            raise ObdError(f"PID {pid.number:#04x} needs {pid.size} bytes: {data.hex()}")
        values[pid.number] = pid.decode(data[offset + 1 : end])
        offset = end
    return values


def encode_current_data(values: Mapping[int, float]) -> bytes:
    """The response payload carrying `values` by PID, in the order given."""
    if not 1 <= len(values) <= MAX_PIDS_PER_REQUEST:
        raise ObdError(f"a response carries 1 to {MAX_PIDS_PER_REQUEST} PIDs, not {len(values)}")
    parts = [bytes([SERVICE_CURRENT_DATA + POSITIVE_RESPONSE_OFFSET])]
    for number, value in values.items():
        parts.append(bytes([number]) + _known(number).encode(value))
    return b"".join(parts)
