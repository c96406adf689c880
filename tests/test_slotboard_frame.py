"""The slot-board frame and its CRC: golden bytes from PROTOCOL.md, round trips, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slotboard_strategies import frames

from firmware_protocol.slotboard import (
    ALL_SLOTS,
    CRC16_CHECK,
    MAX_FRAME,
    MAX_PAYLOAD,
    AckEventsRequest,
    AckEventsResponse,
    BankInserted,
    BoardKind,
    BoardReset,
    Colour,
    CrcError,
    EjectRequest,
    EjectResponse,
    ErrorCode,
    EventQueue,
    Frame,
    GetEventsRequest,
    GetGroundLockRequest,
    GetGroundLockResponse,
    GetInfoRequest,
    GetInfoResponse,
    GetSlotsRequest,
    GetSlotsResponse,
    GroundLockFault,
    IncompleteFrame,
    InvalidFrame,
    LockState,
    Pattern,
    Position,
    RaiseRequest,
    ResetReason,
    SetIndicatorRequest,
    SlotFault,
    SlotStatus,
    build_nak,
    build_request,
    build_response,
    crc16_modbus,
)

SPEC = Path(__file__).resolve().parent.parent / "firmware_protocol/slotboard/PROTOCOL.md"


def crc16_modbus_bitwise(data: bytes) -> int:
    """The textbook bit-at-a-time CRC-16/MODBUS, as PROTOCOL.md section 4.3 states it."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_crc_check_value() -> None:
    assert crc16_modbus(b"123456789") == CRC16_CHECK == 0x4B37


def test_crc_of_a_known_modbus_frame() -> None:
    assert crc16_modbus(bytes.fromhex("010300000001")).to_bytes(2, "little") == b"\x84\x0a"


@given(st.binary(max_size=300))
def test_crc_table_matches_bitwise(data: bytes) -> None:
    assert crc16_modbus(data) == crc16_modbus_bitwise(data)


def _golden() -> list[tuple[Frame, str]]:
    info = build_request(0x01, 0x00, GetInfoRequest())
    eject = build_request(0x03, 0x07, EjectRequest(5))
    get_events = build_request(0x02, 0x2A, GetEventsRequest())
    queue = EventQueue()
    queue.push(BoardReset(ResetReason.POWER_ON))
    queue.push(BankInserted(2, "PB000123", 87))
    ack = build_request(0x02, 0x2B, AckEventsRequest(1))
    slots = build_request(0x01, 0x10, GetSlotsRequest())
    two_slots = GetSlotsResponse(
        (
            SlotStatus(LockState.LOCKED, True, "PB000123", 87, True, SlotFault(0)),
            SlotStatus(LockState.LOCKED, False, None, None, False, SlotFault.LOCK_STUCK),
        )
    )
    raise_arm = build_request(0x01, 0x09, RaiseRequest())
    ground_lock = build_request(0x01, 0x0A, GetGroundLockRequest())
    return [
        (info, "A5 01 00 01 00 00 48"),
        (
            build_response(info, GetInfoResponse(1, BoardKind.CABINET, 8, 0x0102, 0)),
            "A5 01 00 81 07 01 01 08 02 01 00 00 8F 00",
        ),
        (eject, "A5 03 07 11 01 05 F0 E2"),
        (build_response(eject, EjectResponse(5, LockState.UNLOCKED)), "A5 03 07 91 02 05 00 3B 84"),
        (build_nak(eject, ErrorCode.NO_BANK), "A5 03 07 FF 02 11 08 29 AA"),
        (get_events, "A5 02 2A 02 00 21 34"),
        (
            build_response(get_events, queue.get()),
            "A5 02 2A 82 15 00 00 00 00 01 01 00 01 00 02 0A 02 50 42 30 30 30 31 32 33 57 70 A3",
        ),
        (ack, "A5 02 2B 03 02 01 00 85 EB"),
        (build_response(ack, AckEventsResponse(0)), "A5 02 2B 83 01 00 A4 5C"),
        (slots, "A5 01 10 10 00 0D DD"),
        (
            build_response(slots, two_slots),
            "A5 01 10 90 19 02 01 03 50 42 30 30 30 31 32 33 57 00 01 00 00 00 00 00 00 00 00 00"
            " FF 01 B6 29",
        ),
        (
            build_request(
                0x00, 0x05, SetIndicatorRequest(ALL_SLOTS, Colour.RED, Pattern.BLINK_SLOW)
            ),
            "A5 00 05 14 03 FF 01 01 DB 72",
        ),
        (raise_arm, "A5 01 09 21 00 C9 8A"),
        (build_nak(raise_arm, ErrorCode.OCCUPIED), "A5 01 09 FF 02 21 09 94 49"),
        (ground_lock, "A5 01 0A 20 00 38 1A"),
        (
            build_response(
                ground_lock, GetGroundLockResponse(Position.RAISED, False, GroundLockFault(0))
            ),
            "A5 01 0A A0 03 01 00 00 DA F7",
        ),
    ]


@pytest.mark.parametrize(("frame", "wire"), _golden())
def test_golden_frames(frame: Frame, wire: str) -> None:
    data = bytes.fromhex(wire)
    assert frame.serialize() == data
    assert Frame.deserialize(data) == (frame, b"")
    assert crc16_modbus_bitwise(data[1:-2]) == int.from_bytes(data[-2:], "little")
    assert f"`{wire}`" in SPEC.read_text(), "the spec's worked examples list this frame"


def test_golden_layout_by_hand() -> None:
    frame = Frame(address=0x03, seq=0x07, command=0x11, payload=b"\x05")
    data = frame.serialize()
    assert data[:6] == bytes([0xA5, 0x03, 0x07, 0x11, 0x01, 0x05])
    crc = crc16_modbus_bitwise(bytes([0x03, 0x07, 0x11, 0x01, 0x05]))
    assert data[6:] == bytes([crc & 0xFF, crc >> 8])
    assert Frame(0x03, 0x07, 0x11, b"\x05", response=True).serialize()[3] == 0x91


@given(frames, st.binary(max_size=20))
def test_frame_round_trip(frame: Frame, rest: bytes) -> None:
    data = frame.serialize()
    assert len(data) == frame.size <= MAX_FRAME
    assert Frame.deserialize(data + rest) == (frame, rest)


@given(frames, st.data())
def test_every_prefix_is_incomplete(frame: Frame, data: st.DataObject) -> None:
    wire = frame.serialize()
    cut = data.draw(st.integers(0, len(wire) - 1))
    with pytest.raises(IncompleteFrame) as caught:
        Frame.deserialize(wire[:cut])
    assert caught.value.needed >= 1


@given(frames, st.data())
def test_any_single_bit_flip_is_refused(frame: Frame, data: st.DataObject) -> None:
    wire = bytearray(frame.serialize())
    bit = data.draw(st.integers(0, len(wire) * 8 - 1))
    wire[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(InvalidFrame):
        Frame.deserialize(bytes(wire))


def test_refusals_name_what_is_wrong() -> None:
    good = Frame(1, 2, 3, b"abc").serialize()
    with pytest.raises(InvalidFrame, match="start byte"):
        Frame.deserialize(b"\x00" + good[1:])
    with pytest.raises(InvalidFrame, match="length 241"):
        Frame.deserialize(bytes([0xA5, 1, 2, 3, MAX_PAYLOAD + 1]) + bytes(300))
    broken = good[:-1] + bytes([good[-1] ^ 0xFF])
    with pytest.raises(CrcError) as caught:
        Frame.deserialize(broken)
    assert caught.value.received != caught.value.computed


@pytest.mark.parametrize(
    "fields",
    [
        {"address": 256, "seq": 0, "command": 1},
        {"address": 1, "seq": -1, "command": 1},
        {"address": 1, "seq": 0, "command": 0x80},
        {"address": 1, "seq": 0, "command": 1, "payload": bytes(MAX_PAYLOAD + 1)},
    ],
)
def test_frame_that_cannot_go_on_the_wire(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidFrame):
        Frame(**fields)  # type: ignore[arg-type]
