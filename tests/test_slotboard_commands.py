"""The command table walked, both ends of an exchange, and the board's memory and event queue."""

from __future__ import annotations

from typing import Any

import pytest
from slotboard_strategies import PAYLOADS

from firmware_protocol.slotboard import (
    ALL_SLOTS,
    BROADCAST,
    COMMANDS,
    AckEventsRequest,
    AckEventsResponse,
    BankInserted,
    BankRemoved,
    BoardKind,
    BoardReset,
    Colour,
    Command,
    CommandSpec,
    EjectRequest,
    EjectResponse,
    ErrorCode,
    EventQueue,
    Frame,
    FrameReassembler,
    GetEventsRequest,
    GetEventsResponse,
    GetGroundLockResponse,
    GetInfoRequest,
    GetInfoResponse,
    GetSlotsRequest,
    GetSlotsResponse,
    GroundLockFault,
    InvalidFrame,
    InvalidPayload,
    LockChanged,
    LockSlotRequest,
    LockSlotResponse,
    LockState,
    LowerRequest,
    LowerResponse,
    Nak,
    NotAnAnswer,
    Pattern,
    Position,
    RaiseRequest,
    RaiseResponse,
    ResetReason,
    RetransmissionMemory,
    SetChargingRequest,
    SetChargingResponse,
    SetIndicatorRequest,
    SetIndicatorResponse,
    SlotFault,
    SlotStatus,
    UnknownCommand,
    build_nak,
    build_request,
    build_response,
    is_response_to,
    next_seq,
    parse_request,
    parse_response,
    spec_for_code,
    spec_for_request,
    timing,
)
from firmware_protocol.slotboard.parking import GetGroundLockRequest

SAMPLES: dict[Command, tuple[Any, Any]] = {
    Command.GET_INFO: (GetInfoRequest(), GetInfoResponse(1, BoardKind.CABINET, 16, 0x0103, 2)),
    Command.GET_EVENTS: (GetEventsRequest(), GetEventsResponse(0, False, ())),
    Command.ACK_EVENTS: (AckEventsRequest(0xFFFF), AckEventsResponse(3)),
    Command.GET_SLOTS: (
        GetSlotsRequest(),
        GetSlotsResponse(
            (SlotStatus(LockState.LOCKED, True, None, 40, True, SlotFault.ID_UNREADABLE),)
        ),
    ),
    Command.EJECT: (EjectRequest(16), EjectResponse(16, LockState.UNLOCKED)),
    Command.LOCK_SLOT: (LockSlotRequest(1), LockSlotResponse(1, LockState.LOCKED)),
    Command.SET_CHARGING: (
        SetChargingRequest(ALL_SLOTS, False),
        SetChargingResponse(ALL_SLOTS, False),
    ),
    Command.SET_INDICATOR: (
        SetIndicatorRequest(3, Colour.GREEN, Pattern.BLINK_FAST),
        SetIndicatorResponse(3, Colour.GREEN, Pattern.BLINK_FAST),
    ),
    Command.GET_GROUND_LOCK: (
        GetGroundLockRequest(),
        GetGroundLockResponse(Position.MOVING, True, GroundLockFault(0)),
    ),
    Command.RAISE: (RaiseRequest(), RaiseResponse(Position.MOVING)),
    Command.LOWER: (LowerRequest(), LowerResponse(Position.LOWERED)),
}


def test_table_codes_names_and_payload_types_are_unique() -> None:
    for field in ("command", "name", "request", "response"):
        values = [getattr(spec, field) for spec in COMMANDS]
        assert len(values) == len(set(values)), field
    assert Command.NAK not in {spec.command for spec in COMMANDS}
    assert {spec.command for spec in COMMANDS} | {Command.NAK} == set(Command)


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda s: s.name)
def test_table_entry(spec: CommandSpec) -> None:
    assert spec.request is not spec.response
    assert spec.request.__name__.endswith("Request")
    assert spec.response.__name__.endswith("Response")
    assert spec.request in PAYLOADS
    assert spec.response in PAYLOADS
    assert spec.kinds
    assert not spec.broadcast or spec.actuates
    assert spec_for_code(spec.command) is spec


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda s: s.name)
def test_sample_exchange_round_trip(spec: CommandSpec) -> None:
    request, response = SAMPLES[spec.command]
    assert spec_for_request(request) is spec
    frame = build_request(0x21, 0x42, request)
    wire = frame.serialize()
    received, _ = Frame.deserialize(wire)
    for kind in spec.kinds:
        assert parse_request(received, kind) == request
    answer = build_response(received, response)
    assert answer.response
    assert is_response_to(frame, answer)
    assert parse_response(frame, Frame.deserialize(answer.serialize())[0]) == response
    nak = build_nak(received, ErrorCode.BUSY)
    assert parse_response(frame, nak) == Nak(spec.command, ErrorCode.BUSY)


@pytest.mark.parametrize("spec", COMMANDS, ids=lambda s: s.name)
def test_other_kind_gets_unknown_command(spec: CommandSpec) -> None:
    frame = build_request(1, 0, SAMPLES[spec.command][0])
    for kind in set(BoardKind) - spec.kinds:
        with pytest.raises(UnknownCommand) as caught:
            parse_request(frame, kind)
        assert caught.value.code == ErrorCode.UNKNOWN_COMMAND


def test_unknown_code_and_bad_payload_say_which_nak() -> None:
    with pytest.raises(UnknownCommand):
        parse_request(Frame(1, 0, 0x55), BoardKind.CABINET)
    with pytest.raises(InvalidPayload) as caught:
        parse_request(Frame(1, 0, Command.EJECT, b"\x05\x05"), BoardKind.CABINET)
    assert caught.value.code == ErrorCode.BAD_LENGTH


def test_broadcast_rules() -> None:
    frame = build_request(BROADCAST, 9, SetIndicatorRequest(ALL_SLOTS, Colour.OFF, Pattern.STEADY))
    assert parse_request(frame, BoardKind.CABINET).slot == ALL_SLOTS  # type: ignore[attr-defined]
    with pytest.raises(InvalidFrame, match="never answered"):
        build_nak(frame, ErrorCode.BUSY)
    with pytest.raises(InvalidFrame, match="cannot be broadcast"):
        build_request(BROADCAST, 9, EjectRequest(1))
    with pytest.raises(InvalidFrame, match="cannot be broadcast"):
        parse_request(Frame(BROADCAST, 9, Command.EJECT, b"\x01"), BoardKind.CABINET)
    with pytest.raises(InvalidFrame, match="outside"):
        build_request(0xF8, 9, GetInfoRequest())


def test_misuse_is_refused() -> None:
    request = build_request(1, 1, EjectRequest(1))
    with pytest.raises(TypeError):
        build_response(request, LockSlotResponse(1, LockState.LOCKED))
    with pytest.raises(TypeError):
        build_request(1, 1, EjectResponse(1, LockState.LOCKED))
    with pytest.raises(InvalidFrame):
        parse_request(build_nak(request, ErrorCode.BUSY), BoardKind.CABINET)


def test_responses_that_do_not_answer() -> None:
    request = build_request(3, 7, EjectRequest(5))
    response = build_response(request, EjectResponse(5, LockState.UNLOCKED))
    strangers = [
        Frame(4, 7, Command.EJECT, response.payload, response=True),
        Frame(3, 8, Command.EJECT, response.payload, response=True),
        Frame(3, 7, Command.LOCK_SLOT, response.payload, response=True),
        Frame(3, 7, Command.EJECT, request.payload),  # an echo of the request
        Frame(3, 7, Command.NAK, Nak(Command.LOCK_SLOT, ErrorCode.BUSY).encode(), response=True),
    ]
    for stranger in strangers:
        with pytest.raises(NotAnAnswer):
            parse_response(request, stranger)
    with pytest.raises(InvalidPayload):
        parse_response(request, Frame(3, 7, Command.EJECT, b"\x05", response=True))


def test_next_seq_wraps() -> None:
    assert next_seq(0) == 1
    assert next_seq(255) == 0


def test_memory_answers_a_retransmitted_eject_without_acting() -> None:
    memory = RetransmissionMemory()
    eject = build_request(3, 7, EjectRequest(5))
    answer = build_response(eject, EjectResponse(5, LockState.UNLOCKED))
    assert memory.recall(eject) is None
    memory.remember(eject, answer)
    assert memory.recall(eject) == answer
    memory.remember(build_request(3, 8, GetSlotsRequest()), build_nak(eject, ErrorCode.BUSY))
    assert memory.recall(eject) == answer, "read-only requests leave the memory alone"
    assert memory.recall(build_request(3, 8, EjectRequest(5))) is None, "a new seq is new"
    assert memory.recall(build_request(3, 7, EjectRequest(6))) is None, "other payload is new"
    lock = build_request(3, 8, LockSlotRequest(5))
    memory.remember(lock, build_response(lock, LockSlotResponse(5, LockState.LOCKED)))
    assert memory.recall(eject) is None, "another actuating request replaces the memory"
    info = build_request(3, 9, GetInfoRequest())
    memory.remember(eject, answer)
    memory.remember(info, build_response(info, SAMPLES[Command.GET_INFO][1]))
    assert memory.recall(eject) is None, "GET_INFO opens a new session"


def test_bad_crc_nak_is_not_remembered() -> None:
    memory = RetransmissionMemory()
    eject = build_request(3, 7, EjectRequest(5))
    memory.remember(eject, build_nak(eject, ErrorCode.BAD_CRC))
    assert memory.recall(eject) is None


def test_broadcasts_are_not_remembered() -> None:
    memory = RetransmissionMemory()
    frame = build_request(BROADCAST, 1, SetChargingRequest(ALL_SLOTS, True))
    memory.remember(frame, frame)
    assert memory.recall(frame) is None


class _Board:
    """A cabinet board in reverse, as the simulator will build it: one slot, counts ejects."""

    def __init__(self) -> None:
        self.memory = RetransmissionMemory()
        self.ejects = 0

    def handle(self, frame: Frame) -> Frame:
        remembered = self.memory.recall(frame)
        if remembered is not None:
            return remembered
        try:
            request = parse_request(frame, BoardKind.CABINET)
        except InvalidPayload as refused:
            answer = build_nak(frame, refused.code)
        else:
            assert isinstance(request, EjectRequest)
            self.ejects += 1
            answer = build_response(frame, EjectResponse(request.slot, LockState.UNLOCKED))
        self.memory.remember(frame, answer)
        return answer


def test_eject_is_done_once_however_many_responses_are_lost() -> None:
    board = _Board()
    box = FrameReassembler()
    request = build_request(3, 7, EjectRequest(5))
    lost_responses = timing.MAX_ATTEMPTS - 1
    for attempt in range(timing.MAX_ATTEMPTS):
        wire = board.handle(Frame.deserialize(request.serialize())[0]).serialize()
        if attempt < lost_responses:
            continue
        (answer,) = box.feed(wire)
        assert parse_response(request, answer) == EjectResponse(5, LockState.UNLOCKED)
    assert board.ejects == 1
    board.handle(build_request(3, next_seq(7), EjectRequest(5)))
    assert board.ejects == 2


def test_event_queue_get_and_ack() -> None:
    queue = EventQueue()
    queue.push(BoardReset(ResetReason.POWER_ON))
    queue.push(BankInserted(1, "B1", 90))
    queue.push(LockChanged(1, LockState.LOCKED))
    response = queue.get()
    assert [q.seq for q in response.events] == [0, 1, 2]
    assert queue.get() == response, "GET_EVENTS removes nothing"
    assert queue.ack(1) == AckEventsResponse(1)
    assert queue.ack(1) == AckEventsResponse(1), "a repeated ack drops nothing more"
    assert queue.ack(500) == AckEventsResponse(1), "an ack of an unknown seq drops nothing"
    assert [q.seq for q in queue.get().events] == [2]
    assert queue.ack(2) == AckEventsResponse(0)
    assert queue.get() == GetEventsResponse(0, False, ())


def test_event_queue_overflow_flag_lifecycle() -> None:
    queue = EventQueue(capacity=2)
    assert queue.push(BankRemoved(1, False)) is not None
    assert queue.push(BankRemoved(2, False)) is not None
    assert queue.push(BankRemoved(3, True)) is None
    queue.ack(0)
    assert queue.get().overflow, "an ack before the flag was reported does not clear it"
    queue.ack(1)
    response = queue.get()
    assert not response.overflow
    assert queue.push(BankRemoved(4, False)) == queue.get().events[0]
    assert queue.get().events[0].seq == 2, "a dropped event takes no seq"


def test_event_seq_wraps_at_16_bits() -> None:
    queue = EventQueue()
    for _ in range(0x10000):
        queued = queue.push(BankRemoved(1, False))
        assert queued is not None
        queue.ack(queued.seq)
    assert queue.push(BankRemoved(1, False)) == queue.get().events[0]
    assert queue.get().events[0].seq == 0
