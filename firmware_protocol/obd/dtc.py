"""Service 0x03: stored diagnostic trouble codes (DTCs).

On CAN (ISO 15765-4) the response is 0x43, the number of DTCs, then two bytes per DTC:

    bits 15-14  letter: 00 P (powertrain), 01 C (chassis), 10 B (body), 11 U (network)
    bits 13-12  first digit, 0-3
    bits 11-0   three hex digits

so 0x03 0x01 is "P0301" and 0xC1 0x00 is "U0100". Many DTCs make a multi-frame answer.
"""

import re
from collections.abc import Sequence

from .errors import ObdError
from .service import POSITIVE_RESPONSE_OFFSET, SERVICE_STORED_DTCS, positive_response_data

LETTERS = "PCBU"
MAX_DTCS = 0xFF
_DTC = re.compile(r"[PCBU][0-3][0-9A-F]{3}")


def request_stored_dtcs() -> bytes:
    return bytes([SERVICE_STORED_DTCS])


def decode_dtc(data: bytes) -> str:
    """The DTC in two bytes, e.g. "P0301"."""
    if len(data) != 2:
        raise ObdError(f"a DTC is 2 bytes, not {len(data)}")
    code = int.from_bytes(data, "big")
    return f"{LETTERS[code >> 14]}{code >> 12 & 0x3}{code & 0xFFF:03X}"


def encode_dtc(dtc: str) -> bytes:
    if not _DTC.fullmatch(dtc):
        raise ObdError(f"{dtc!r} is not a DTC like P0301")
    code = LETTERS.index(dtc[0]) << 14 | int(dtc[1]) << 12 | int(dtc[2:], 16)
    return code.to_bytes(2, "big")


def parse_stored_dtcs(payload: bytes) -> tuple[str, ...]:
    data = positive_response_data(payload, SERVICE_STORED_DTCS)
    if not data:
        raise ObdError("service 0x03 response without the number of DTCs")
    count = data[0]
    if len(data) != 1 + 2 * count:
        raise ObdError(f"{count} DTCs announced in {len(data) - 1} bytes")
    return tuple(decode_dtc(data[i : i + 2]) for i in range(1, len(data), 2))


def encode_stored_dtcs(dtcs: Sequence[str]) -> bytes:
    if len(dtcs) > MAX_DTCS:
        raise ObdError(f"{len(dtcs)} DTCs, at most {MAX_DTCS} fit one response")
    header = bytes([SERVICE_STORED_DTCS + POSITIVE_RESPONSE_OFFSET, len(dtcs)])
    return header + b"".join(encode_dtc(dtc) for dtc in dtcs)
