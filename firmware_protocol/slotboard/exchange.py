"""Requests and answers from both ends: the box builds requests and reads answers, a board
(or a simulator) reads requests and builds answers, NAKs and event reports."""

from __future__ import annotations

from .commands import Command, spec_for_code, spec_for_request
from .common import BoardKind, Nak, Payload
from .errors import ErrorCode, InvalidFrame, NotAnAnswer
from .frame import BROADCAST, MAX_ADDRESS, Frame


def next_seq(seq: int) -> int:
    """The seq of the box's next new request to a board (a retransmission keeps its seq)."""
    return (seq + 1) & 0xFF


def build_request(address: int, seq: int, request: Payload) -> Frame:
    """The frame that sends `request` to the board at `address` (BROADCAST where allowed)."""
    spec = spec_for_request(request)
    if not BROADCAST <= address <= MAX_ADDRESS:
        raise InvalidFrame(f"address {address:#04x} is outside 0x00..{MAX_ADDRESS:#04x}")
    if address == BROADCAST and not spec.broadcast:
        raise InvalidFrame(f"{spec.name} cannot be broadcast")
    return Frame(address, seq, spec.command, request.encode())


def is_response_to(request: Frame, frame: Frame) -> bool:
    """Whether `frame` comes from the board `request` went to, answering that very request."""
    return (
        frame.response
        and not request.response
        and frame.address == request.address != BROADCAST
        and frame.seq == request.seq
        and frame.command in (request.command, Command.NAK)
    )


def parse_response(request: Frame, frame: Frame) -> Payload:
    """The typed answer to `request`: its command's response payload, or a `Nak`.

    Raises NotAnAnswer when `frame` does not answer `request`, InvalidPayload when it does
    but its payload is wrong.
    """
    if not is_response_to(request, frame):
        raise NotAnAnswer(f"{frame} does not answer {request}")
    if frame.command == Command.NAK:
        nak = Nak.decode(frame.payload)
        if nak.command != request.command:
            raise NotAnAnswer(f"NAK of command {nak.command:#04x}, not {request.command:#04x}")
        return nak
    return spec_for_code(request.command).response.decode(frame.payload)


def parse_request(frame: Frame, kind: BoardKind) -> Payload:
    """The typed request in `frame`, for a board of `kind`.

    Raises InvalidFrame for an answer or a broadcast the command does not allow (a board
    ignores both), UnknownCommand or InvalidPayload otherwise; their `code` is the NAK to send.
    """
    if frame.response:
        raise InvalidFrame("an answer, not a request")
    spec = spec_for_code(frame.command, kind)
    if frame.address == BROADCAST and not spec.broadcast:
        raise InvalidFrame(f"{spec.name} cannot be broadcast")
    return spec.request.decode(frame.payload)


def build_response(request: Frame, response: Payload) -> Frame:
    """The board's answer to `request` carrying `response` (its command's response payload)."""
    spec = spec_for_code(request.command)
    if type(response) is not spec.response:
        raise TypeError(
            f"{spec.name} is answered by {spec.response.__name__}, not {type(response).__name__}"
        )
    return _response(request, spec.command, response.encode())


def build_nak(request: Frame, code: ErrorCode) -> Frame:
    """The board's refusal of `request`, for `code`."""
    return _response(request, Command.NAK, Nak(request.command, code).encode())


def _response(request: Frame, command: int, payload: bytes) -> Frame:
    if request.response:
        raise InvalidFrame("an answer is never answered")
    if request.address == BROADCAST:
        raise InvalidFrame("a broadcast is never answered")
    return Frame(request.address, request.seq, command, payload, response=True)
