"""One simulated board: the half of PROTOCOL.md every board kind shares.

`Board.answer()` is what a board does with a request to its address: a retransmission of the
remembered actuating request gets the remembered response again and nothing is done (section 7);
otherwise the request is parsed (a payload that does not fit is NAKed with the codec's code),
GET_INFO, GET_EVENTS and ACK_EVENTS are answered here, and everything else is the kind's
`carry_out()`, which refuses by raising `Refused`. `hear_broadcast()` carries out a broadcast and
answers nothing. The board's own faults for the line (`silent`, `duplicate`, `late_s`) are read by
the line, which is what sends or withholds the bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from firmware_protocol.slotboard import (
    BROADCAST,
    PROTOCOL_VERSION,
    AckEventsRequest,
    BoardKind,
    BoardReset,
    Command,
    ErrorCode,
    Event,
    EventQueue,
    Frame,
    GetEventsRequest,
    GetInfoRequest,
    GetInfoResponse,
    InvalidFrame,
    InvalidPayload,
    Payload,
    ResetReason,
    RetransmissionMemory,
    build_nak,
    build_response,
    parse_request,
)
from sim.control import emit

from .timers import Timers

FIRMWARE_VERSION = 0x0100
MAX_CRC_ERRORS = 0xFFFF


class Refused(Exception):
    """A request the board will not carry out; it answers the NAK `code`."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class BoardCounters:
    requests: int = 0  # frames to this board's own address, retransmissions included
    broadcasts: int = 0  # broadcasts carried out
    naks_sent: int = 0
    retransmissions: int = 0  # answered from the remembered response, not carried out again
    events_queued: int = 0
    events_dropped: int = 0  # found the queue full (the overflow flag)


def command_name(code: int) -> str:
    try:
        return Command(code).name
    except ValueError:
        return f"{code:#04x}"


class Board(ABC):
    """A board at `address` on the line; a kind implements `carry_out()` and `describe()`."""

    kind: ClassVar[BoardKind]

    def __init__(self, address: int, timers: Timers) -> None:
        self.address = address
        self.timers = timers
        self.events = EventQueue()
        self.memory = RetransmissionMemory()
        self.crc_errors = 0
        self.counters = BoardCounters()
        self.silent = False  # unplugged from the line: hears nothing, answers nothing
        self.duplicate = False  # every response sent twice
        self.late_s = 0.0  # every response sent this much later than the turnaround

    @property
    @abstractmethod
    def slot_count(self) -> int:
        """GET_INFO's slot count (0 for a ground lock)."""

    @abstractmethod
    def carry_out(self, request: Payload, frame: Frame) -> Payload:
        """The kind's own commands: act and return the response payload, or raise Refused
        before acting. `frame.address` is BROADCAST for a broadcast."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """The board's physical state, for the simulator's `state`."""

    def power_on(self, reason: ResetReason = ResetReason.POWER_ON) -> None:
        """(Re)start: a fresh event queue opened by BOARD_RESET, no remembered request."""
        self.events = EventQueue()
        self.memory.forget()
        self.crc_errors = 0
        self.queue(BoardReset(reason))

    def queue(self, event: Event) -> None:
        if self.events.push(event) is None:
            self.counters.events_dropped += 1
            emit("event_dropped", address=self.address, type=type(event).__name__)
        else:
            self.counters.events_queued += 1

    def heard_crc_errors(self, count: int) -> None:
        self.crc_errors = min(self.crc_errors + count, MAX_CRC_ERRORS)

    def answer(self, frame: Frame) -> Frame:
        """The response to a request addressed to this board."""
        self.counters.requests += 1
        remembered = self.memory.recall(frame)
        if remembered is not None:
            self.counters.retransmissions += 1
            emit(
                "retransmission",
                address=self.address,
                seq=frame.seq,
                command=command_name(frame.command),
            )
            return remembered
        try:
            response = build_response(
                frame, self._carry_out(parse_request(frame, self.kind), frame)
            )
        except InvalidPayload as exc:
            response = self._nak(frame, exc.code, str(exc))
        except Refused as exc:
            response = self._nak(frame, exc.code, exc.reason)
        self.memory.remember(frame, response)
        return response

    def hear_broadcast(self, frame: Frame) -> None:
        """Carry out a broadcast the command table allows; anything else is ignored."""
        assert frame.address == BROADCAST
        try:
            request = parse_request(frame, self.kind)
            self.carry_out(request, frame)
        except (InvalidFrame, InvalidPayload, Refused):
            return
        self.counters.broadcasts += 1

    def state(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "kind": self.kind.name.lower(),
            "slot_count": self.slot_count,
            "silent": self.silent,
            "duplicate": self.duplicate,
            "late_ms": round(self.late_s * 1000, 3),
            "events_pending": self.events.pending,
            "crc_errors": self.crc_errors,
            "counters": asdict(self.counters),
            **self.describe(),
        }

    def _carry_out(self, request: Payload, frame: Frame) -> Payload:
        if isinstance(request, GetInfoRequest):
            return GetInfoResponse(
                PROTOCOL_VERSION, self.kind, self.slot_count, FIRMWARE_VERSION, self.crc_errors
            )
        if isinstance(request, GetEventsRequest):
            return self.events.get()
        if isinstance(request, AckEventsRequest):
            return self.events.ack(request.seq)
        return self.carry_out(request, frame)

    def _nak(self, frame: Frame, code: ErrorCode, reason: str) -> Frame:
        self.counters.naks_sent += 1
        emit(
            "nak",
            address=self.address,
            seq=frame.seq,
            command=command_name(frame.command),
            code=code.name,
            reason=reason,
        )
        return build_nak(frame, code)
