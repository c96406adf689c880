"""Where cabinet slots are on the line, what the boards say in cabinet slot numbers, and when
the cabinet box probes a board."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.cabinet import inputs
from edge.cabinet.boards import DOWN_PROBE_S, PROBE_AFTER_S, Boards
from edge.cabinet.slot_map import BoardSlot, SlotMap
from firmware_protocol.slotboard import (
    BankInserted,
    BankRemoved,
    BoardReset,
    LockChanged,
    LockState,
    ResetReason,
    SlotFault,
    SlotFaultChanged,
    SlotStatus,
)

LOCKED = LockState.LOCKED


@given(
    boards=st.lists(st.integers(1, 247), min_size=1, max_size=8, unique=True),
    per_board=st.integers(1, 16),
)
def test_every_slot_is_one_board_slot_and_back(boards: list[int], per_board: int) -> None:
    slot_map = SlotMap(boards, per_board)
    assert slot_map.slot_count == len(boards) * per_board
    seen = set()
    for slot in range(1, slot_map.slot_count + 1):
        where = slot_map.board_slot(slot)
        assert where.address == boards[(slot - 1) // per_board]
        assert slot_map.cabinet_slot(where.address, where.slot) == slot
        assert slot in slot_map.slots_of(where.address)
        seen.add(where)
    assert len(seen) == slot_map.slot_count


def test_the_config_order_numbers_the_slots() -> None:
    slot_map = SlotMap([3, 1, 2], 16)
    assert slot_map.board_slot(1) == BoardSlot(3, 1)
    assert slot_map.board_slot(17) == BoardSlot(1, 1)
    assert slot_map.board_slot(48) == BoardSlot(2, 16)
    assert slot_map.cabinet_slot(2, 5) == 37
    assert slot_map.cabinet_slot(4, 1) is None  # no such board
    assert slot_map.cabinet_slot(1, 17) is None  # beyond the configured slots
    with pytest.raises(ValueError, match="the slots are 1 to 48"):
        slot_map.board_slot(49)


def test_board_events_in_cabinet_slots() -> None:
    boards = Boards(SlotMap([1, 2], 8))
    assert boards.event(2, BankInserted(3, "PB000001", 90)) == inputs.BankInserted(
        11, "PB000001", 90
    )
    assert boards.event(2, BankRemoved(8, True)) == inputs.BankRemoved(16, True)
    assert boards.event(1, LockChanged(1, LOCKED)) == inputs.LockChanged(1, LOCKED)
    faults = SlotFault.OVERTEMP
    assert boards.event(1, SlotFaultChanged(2, faults)) == inputs.SlotFaultChanged(2, faults)
    assert boards.event(1, BankRemoved(9, False)) is None  # a slot the cabinet does not use
    assert boards.event(1, BoardReset(ResetReason.WATCHDOG)) is None


def test_a_board_with_fewer_slots_leaves_slots_that_read_as_faults() -> None:
    boards = Boards(SlotMap([1, 2], 4))
    bank = SlotStatus(LOCKED, True, "PB000001", 80, False, SlotFault(0))
    empty = SlotStatus(LOCKED, False, None, None, False, SlotFault(0))
    readings = boards.readings(2, (bank, empty)).slots
    assert [r.slot for r in readings] == [5, 6, 7, 8]
    assert (readings[0].bank_id, readings[0].lock, readings[1].bank_present) == (
        "PB000001",
        LOCKED,
        False,
    )
    assert all(r.lock is LockState.UNKNOWN and not r.bank_present for r in readings[2:])
    assert boards.new_count_mismatch(2, 2)
    assert not boards.new_count_mismatch(2, 2)  # reported once
    assert not boards.new_count_mismatch(1, 4)


def test_when_boards_are_probed() -> None:
    boards = Boards(SlotMap([1, 2, 3], 4))
    one, two, three = boards
    three.down = True
    answering = {1}
    probe, unread = boards.due(100.0, answering.__contains__)
    assert (probe, unread) == ([three], [one])  # board 2 only just went quiet
    probe, _ = boards.due(100.0 + PROBE_AFTER_S, answering.__contains__)
    assert probe == [two, three]
    for board in probe:
        boards.probed(board, 101.0)
    probe, _ = boards.due(101.0 + DOWN_PROBE_S - 0.01, answering.__contains__)
    assert probe == []
    probe, _ = boards.due(101.0 + DOWN_PROBE_S, answering.__contains__)
    assert probe == [three]
