"""Every payload codec: hypothesis round trips, golden bytes, and refusals with their NAK code."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slotboard_strategies import PAYLOADS, events, queued_events

from firmware_protocol.slotboard import (
    COMMANDS,
    MAX_PAYLOAD,
    BankInserted,
    BankRemoved,
    EjectRequest,
    ErrorCode,
    EventQueue,
    GetEventsResponse,
    GetInfoRequest,
    GetSlotsResponse,
    InvalidPayload,
    LockState,
    Nak,
    QueuedEvent,
    SetChargingRequest,
    SlotFault,
    SlotFaultChanged,
    SlotStatus,
    UnknownEvent,
)
from firmware_protocol.slotboard.events import decode_events


def test_every_table_payload_has_a_strategy() -> None:
    table = {spec.request for spec in COMMANDS} | {spec.response for spec in COMMANDS}
    assert table <= set(PAYLOADS)


@pytest.mark.parametrize("cls", sorted(PAYLOADS, key=lambda c: c.__name__))
@given(data=st.data())
def test_payload_round_trip(cls: type[Any], data: st.DataObject) -> None:
    payload = data.draw(PAYLOADS[cls])
    wire = payload.encode()
    assert len(wire) <= MAX_PAYLOAD
    assert cls.decode(wire) == payload
    assert type(cls.decode(wire)) is cls


@given(st.lists(queued_events, max_size=20))
def test_event_list_round_trip(queued: list[QueuedEvent]) -> None:
    wire = b"".join(q.encode() for q in queued)
    assert decode_events(wire) == tuple(queued)
    assert sum(q.size for q in queued) == len(wire)


@given(events)
def test_event_round_trip(event: Any) -> None:
    assert decode_events(QueuedEvent(7, event).encode()) == (QueuedEvent(7, event),)


def test_golden_slot_status() -> None:
    status = SlotStatus(
        LockState.LOCKED, True, "PB01", None, False, SlotFault.OVERTEMP | SlotFault.CHARGER_FAULT
    )
    assert status.encode() == bytes.fromhex("01 01 50423031 00000000 FF 0C")


def test_golden_bank_inserted_with_unreadable_id() -> None:
    event = QueuedEvent(0x1234, BankInserted(16, None, 5))
    assert event.encode() == bytes.fromhex("3412 02 0A 10 0000000000000000 05")


def test_unknown_event_is_kept_and_skipped_over() -> None:
    wire = bytes.fromhex("0500 7E 03 AABBCC") + QueuedEvent(6, BankRemoved(3, True)).encode()
    assert decode_events(wire) == (
        QueuedEvent(5, UnknownEvent(0x7E, b"\xaa\xbb\xcc")),
        QueuedEvent(6, BankRemoved(3, True)),
    )


def test_unknown_event_cannot_hide_a_known_type() -> None:
    with pytest.raises(InvalidPayload):
        UnknownEvent(0x02, b"")


def test_unknown_fault_bits_pass_through() -> None:
    event = SlotFaultChanged(1, SlotFault(0x80 | SlotFault.LOCK_STUCK))
    assert decode_events(QueuedEvent(0, event).encode())[0].event == event


@pytest.mark.parametrize(
    ("cls", "wire", "code"),
    [
        (GetInfoRequest, b"\x00", ErrorCode.BAD_LENGTH),
        (EjectRequest, b"", ErrorCode.BAD_LENGTH),
        (EjectRequest, b"\x00", ErrorCode.BAD_SLOT),
        (EjectRequest, b"\x11", ErrorCode.BAD_SLOT),
        (EjectRequest, b"\xff", ErrorCode.BAD_SLOT),
        (SetChargingRequest, b"\x11\x01", ErrorCode.BAD_SLOT),
        (SetChargingRequest, b"\x01\x02", ErrorCode.BAD_VALUE),
        (Nak, b"\x11\x00", ErrorCode.BAD_VALUE),
        (Nak, b"\x80\x01", ErrorCode.BAD_VALUE),
        (GetSlotsResponse, b"", ErrorCode.BAD_LENGTH),
        (GetSlotsResponse, b"\x00", ErrorCode.BAD_VALUE),
        (GetSlotsResponse, b"\x01" + bytes(11), ErrorCode.BAD_LENGTH),
        (GetSlotsResponse, b"\x11" + bytes(12 * 17), ErrorCode.BAD_VALUE),
        (SlotStatus, bytes.fromhex("03 00 0000000000000000 FF 00"), ErrorCode.BAD_VALUE),
        (SlotStatus, bytes.fromhex("01 01 5000420000000000 FF 00"), ErrorCode.BAD_VALUE),
        (SlotStatus, bytes.fromhex("01 01 5020000000000000 FF 00"), ErrorCode.BAD_VALUE),
        (SlotStatus, bytes.fromhex("01 01 5042000000000000 65 00"), ErrorCode.BAD_VALUE),
        (SlotStatus, bytes.fromhex("01 00 5042000000000000 FF 00"), ErrorCode.BAD_VALUE),
        (SlotStatus, bytes.fromhex("01 00 0000000000000000 32 00"), ErrorCode.BAD_VALUE),
        (SlotStatus, bytes.fromhex("01 02 0000000000000000 FF 00"), ErrorCode.BAD_VALUE),
        (GetEventsResponse, b"\x00", ErrorCode.BAD_LENGTH),
        (GetEventsResponse, b"\x00\x02", ErrorCode.BAD_VALUE),
        (GetEventsResponse, bytes.fromhex("0000 0100 03 02 01"), ErrorCode.BAD_LENGTH),
        (GetEventsResponse, bytes.fromhex("0000 0100 03"), ErrorCode.BAD_LENGTH),
        (GetEventsResponse, bytes.fromhex("0000 0100 03 03 010000"), ErrorCode.BAD_LENGTH),
    ],
)
def test_refused_payloads_carry_their_nak_code(
    cls: type[Any], wire: bytes, code: ErrorCode
) -> None:
    with pytest.raises(InvalidPayload) as caught:
        cls.decode(wire)
    assert caught.value.code == code


def test_empty_slot_cannot_claim_a_bank() -> None:
    with pytest.raises(InvalidPayload, match="empty slot"):
        SlotStatus(LockState.LOCKED, False, "PB01", None, False, SlotFault(0))


@pytest.mark.parametrize("bank_id", ["", "123456789", "a b", "é", "\x00x"])
def test_bad_bank_ids_are_refused(bank_id: str) -> None:
    with pytest.raises(InvalidPayload):
        BankInserted(1, bank_id, 50)


def test_events_that_do_not_fit_are_refused() -> None:
    many = tuple(QueuedEvent(i, BankInserted(1, "X", 1)) for i in range(18))
    with pytest.raises(InvalidPayload) as caught:
        GetEventsResponse(0, False, many)
    assert caught.value.code == ErrorCode.BAD_LENGTH


def test_queue_fills_a_response_with_as_many_whole_events_as_fit() -> None:
    queue = EventQueue()
    for _ in range(30):
        queue.push(BankInserted(1, "ABCDEFGH", 100))
    response = queue.get()
    assert len(response.events) == (MAX_PAYLOAD - 2) // 14
    assert response.pending == 30 - len(response.events)
    assert len(response.encode()) <= MAX_PAYLOAD
