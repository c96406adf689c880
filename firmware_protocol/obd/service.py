"""OBD-II on CAN (ISO 15765-4, 11-bit identifiers): addressing, requests, the response header.

A request goes to the functional id 0x7DF (every emissions ECU answers) or to one ECU's
physical id 0x7E0..0x7E7; ECU n answers on 0x7E8 + n. A positive response repeats the service
with 0x40 added; a negative one is 0x7F, the service, a negative response code (NRC).
"""

from dataclasses import dataclass
from enum import IntEnum

from .errors import NegativeResponseError, ObdError

FUNCTIONAL_REQUEST_ID = 0x7DF
PHYSICAL_REQUEST_IDS = range(0x7E0, 0x7E8)
RESPONSE_IDS = range(0x7E8, 0x7F0)
RESPONSE_ID_OFFSET = 8

SERVICE_CURRENT_DATA = 0x01
SERVICE_STORED_DTCS = 0x03
POSITIVE_RESPONSE_OFFSET = 0x40
NEGATIVE_RESPONSE = 0x7F
MAX_PIDS_PER_REQUEST = 6


class Nrc(IntEnum):
    """Negative response codes an OBD-II ECU answers with (ISO 14229-1 numbering)."""

    GENERAL_REJECT = 0x10
    SERVICE_NOT_SUPPORTED = 0x11
    SUBFUNCTION_NOT_SUPPORTED = 0x12
    INCORRECT_MESSAGE_LENGTH = 0x13
    BUSY_REPEAT_REQUEST = 0x21
    CONDITIONS_NOT_CORRECT = 0x22
    REQUEST_OUT_OF_RANGE = 0x31
    RESPONSE_PENDING = 0x78


def response_id(request_id: int) -> int:
    """The id the ECU answers on when asked on physical `request_id`."""
    if request_id not in PHYSICAL_REQUEST_IDS:
        raise ObdError(f"{request_id:#x} is not a physical request id")
    return request_id + RESPONSE_ID_OFFSET


def physical_request_id(response_id: int) -> int:
    """The id that reaches, alone, the ECU answering on `response_id`."""
    if response_id not in RESPONSE_IDS:
        raise ObdError(f"{response_id:#x} is not a response id")
    return response_id - RESPONSE_ID_OFFSET


@dataclass(frozen=True)
class Request:
    """A request as an ECU reads it: the service and, for service 0x01, the PIDs asked for."""

    service: int
    pids: tuple[int, ...] = ()


def parse_request(payload: bytes) -> Request:
    if not payload:
        raise ObdError("empty request")
    service = payload[0]
    if service != SERVICE_CURRENT_DATA:
        return Request(service)
    pids = tuple(payload[1:])
    if not 1 <= len(pids) <= MAX_PIDS_PER_REQUEST:
        raise ObdError(f"service 0x01 asks for 1 to {MAX_PIDS_PER_REQUEST} PIDs, not {len(pids)}")
    return Request(service, pids)


def positive_response_data(payload: bytes, service: int) -> bytes:
    """What follows the service byte of a positive response to `service`.

    Raises NegativeResponseError for a 0x7F answer to `service`, ObdError for anything else
    that is not a positive answer to it.
    """
    if len(payload) >= 3 and payload[0] == NEGATIVE_RESPONSE and payload[1] == service:
        raise NegativeResponseError(service, payload[2])
    if not payload or payload[0] != service + POSITIVE_RESPONSE_OFFSET:
        raise ObdError(f"not a response to service {service:#04x}: {bytes(payload).hex()}")
    return bytes(payload[1:])


def encode_negative_response(service: int, nrc: int) -> bytes:
    if not (0 <= service <= 0xFF and 0 <= nrc <= 0xFF):
        raise ObdError(f"service {service} or NRC {nrc} is not a byte")
    return bytes([NEGATIVE_RESPONSE, service, nrc])
