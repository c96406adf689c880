"""Hypothesis strategies for the slot-board codec: frames, and every payload it encodes."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from firmware_protocol.slotboard import (
    ALL_SLOTS,
    MAX_PAYLOAD,
    MAX_SLOTS,
    AckEventsRequest,
    AckEventsResponse,
    BankInserted,
    BankRemoved,
    BoardKind,
    BoardReset,
    Colour,
    EjectRequest,
    EjectResponse,
    ErrorCode,
    EventType,
    Frame,
    GetEventsRequest,
    GetEventsResponse,
    GetGroundLockRequest,
    GetGroundLockResponse,
    GetInfoRequest,
    GetInfoResponse,
    GetSlotsRequest,
    GetSlotsResponse,
    GroundLockFault,
    GroundLockFaultChanged,
    LockChanged,
    LockSlotRequest,
    LockSlotResponse,
    LockState,
    LowerRequest,
    LowerResponse,
    Nak,
    OccupancyChanged,
    Pattern,
    Position,
    PositionChanged,
    QueuedEvent,
    RaiseRequest,
    RaiseResponse,
    ResetReason,
    SetChargingRequest,
    SetChargingResponse,
    SetIndicatorRequest,
    SetIndicatorResponse,
    SlotFault,
    SlotFaultChanged,
    SlotStatus,
    UnknownEvent,
)

frames = st.builds(
    Frame,
    address=st.integers(0, 0xFF),
    seq=st.integers(0, 0xFF),
    command=st.integers(0, 0x7F),
    payload=st.binary(max_size=MAX_PAYLOAD),
    response=st.booleans(),
)

slots = st.integers(1, MAX_SLOTS)
slots_or_all = slots | st.just(ALL_SLOTS)
bank_ids = st.none() | st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=8
)
charges = st.none() | st.integers(0, 100)
bytes_u8 = st.integers(0, 0xFF)
slot_faults = bytes_u8.map(SlotFault)
ground_lock_faults = bytes_u8.map(GroundLockFault)


@st.composite
def slot_statuses(draw: st.DrawFn) -> SlotStatus:
    lock = draw(st.sampled_from(LockState))
    faults = draw(slot_faults)
    if draw(st.booleans()):
        return SlotStatus(lock, True, draw(bank_ids), draw(charges), draw(st.booleans()), faults)
    return SlotStatus(lock, False, None, None, False, faults)


_KNOWN_TYPES = {int(t) for t in EventType}

events = st.one_of(
    st.builds(BoardReset, st.sampled_from(ResetReason)),
    st.builds(BankInserted, slots, bank_ids, charges),
    st.builds(BankRemoved, slots, st.booleans()),
    st.builds(LockChanged, slots, st.sampled_from(LockState)),
    st.builds(SlotFaultChanged, slots, slot_faults),
    st.builds(PositionChanged, st.sampled_from(Position)),
    st.builds(OccupancyChanged, st.booleans()),
    st.builds(GroundLockFaultChanged, ground_lock_faults),
    st.builds(
        UnknownEvent, bytes_u8.filter(lambda t: t not in _KNOWN_TYPES), st.binary(max_size=10)
    ),
)
queued_events = st.builds(QueuedEvent, st.integers(0, 0xFFFF), events)

# 15 events of at most 14 bytes each, plus the 2-byte header, fit in MAX_PAYLOAD.
PAYLOADS: dict[type[Any], st.SearchStrategy[Any]] = {
    GetInfoRequest: st.just(GetInfoRequest()),
    GetInfoResponse: st.builds(
        GetInfoResponse,
        bytes_u8,
        st.sampled_from(BoardKind),
        st.integers(0, MAX_SLOTS),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
    ),
    GetEventsRequest: st.just(GetEventsRequest()),
    GetEventsResponse: st.builds(
        GetEventsResponse, bytes_u8, st.booleans(), st.lists(queued_events, max_size=15).map(tuple)
    ),
    AckEventsRequest: st.builds(AckEventsRequest, st.integers(0, 0xFFFF)),
    AckEventsResponse: st.builds(AckEventsResponse, bytes_u8),
    GetSlotsRequest: st.just(GetSlotsRequest()),
    GetSlotsResponse: st.builds(
        GetSlotsResponse, st.lists(slot_statuses(), min_size=1, max_size=MAX_SLOTS).map(tuple)
    ),
    EjectRequest: st.builds(EjectRequest, slots),
    EjectResponse: st.builds(EjectResponse, slots, st.sampled_from(LockState)),
    LockSlotRequest: st.builds(LockSlotRequest, slots),
    LockSlotResponse: st.builds(LockSlotResponse, slots, st.sampled_from(LockState)),
    SetChargingRequest: st.builds(SetChargingRequest, slots_or_all, st.booleans()),
    SetChargingResponse: st.builds(SetChargingResponse, slots_or_all, st.booleans()),
    SetIndicatorRequest: st.builds(
        SetIndicatorRequest, slots_or_all, st.sampled_from(Colour), st.sampled_from(Pattern)
    ),
    SetIndicatorResponse: st.builds(
        SetIndicatorResponse, slots_or_all, st.sampled_from(Colour), st.sampled_from(Pattern)
    ),
    GetGroundLockRequest: st.just(GetGroundLockRequest()),
    GetGroundLockResponse: st.builds(
        GetGroundLockResponse, st.sampled_from(Position), st.booleans(), ground_lock_faults
    ),
    RaiseRequest: st.just(RaiseRequest()),
    RaiseResponse: st.builds(RaiseResponse, st.sampled_from(Position)),
    LowerRequest: st.just(LowerRequest()),
    LowerResponse: st.builds(LowerResponse, st.sampled_from(Position)),
    Nak: st.builds(Nak, st.integers(0, 0x7F), st.sampled_from(ErrorCode)),
    SlotStatus: slot_statuses(),
}
