"""Where each cabinet slot is on the line: slot n is slot s of the board at address a.

`cabinet.boards` lists the board addresses in slot order, each with `slots_per_board` slots: the
first board's slots are 1..M, the next board's M+1..2M, and so on ((b-1)*M + s for the b-th).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BoardSlot:
    address: int
    slot: int  # on the board, 1..slots_per_board


class SlotMap:
    def __init__(self, boards: list[int], slots_per_board: int) -> None:
        if not boards or slots_per_board < 1:
            raise ValueError("a cabinet has at least one board of at least one slot")
        self.addresses = tuple(boards)
        self.slots_per_board = slots_per_board
        self._first = {address: i * slots_per_board + 1 for i, address in enumerate(boards)}

    @property
    def slot_count(self) -> int:
        return len(self.addresses) * self.slots_per_board

    def cabinet_slot(self, address: int, board_slot: int) -> int | None:
        """The cabinet's number for a board's slot; None when the cabinet does not use it."""
        first = self._first.get(address)
        if first is None or not 1 <= board_slot <= self.slots_per_board:
            return None
        return first + board_slot - 1

    def board_slot(self, slot: int) -> BoardSlot:
        if not 1 <= slot <= self.slot_count:
            raise ValueError(f"no slot {slot}: the slots are 1 to {self.slot_count}")
        index, offset = divmod(slot - 1, self.slots_per_board)
        return BoardSlot(self.addresses[index], offset + 1)

    def slots_of(self, address: int) -> range:
        first = self._first[address]
        return range(first, first + self.slots_per_board)
