"""The slot boards as the cabinet box sees them: what each one says, in the cabinet's slot
numbers (the controller's inputs), and how each one is doing.

A board the link finds unreachable (a request to it timed out) is probed with GET_INFO once it
stayed so for PROBE_AFTER_S: a noisy line loses a poll now and then, and the next one opens a
new session at once. A board reported unreachable is probed every DOWN_PROBE_S.

A board's slot count is checked against `cabinet.slots_per_board`. A board with fewer slots
leaves cabinet slots that do not exist: they read as no bank and an unknown latch, so they show
as `fault` and are never reserved. A board with more slots has its extra slots ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from edge.cabinet import inputs
from edge.cabinet.slot_map import SlotMap
from edge.cabinet.telemetry import BoardHealth
from firmware_protocol.slotboard import (
    BankInserted,
    BankRemoved,
    Event,
    LockChanged,
    LockState,
    SlotFault,
    SlotFaultChanged,
    SlotStatus,
)

PROBE_AFTER_S = 1.0
DOWN_PROBE_S = 2.0
NO_SUCH_SLOT = (LockState.UNKNOWN, False, None, None, SlotFault(0))


@dataclass
class BoardStatus:
    address: int
    reported_count: int | None = None  # a slot count that differs from the config, once logged
    down: bool = False  # reported unreachable; its latches read unknown until it answers
    fed: bool = False  # read since the agent started: from now on its events are fed
    heard: int = 0  # events the poller delivered from it, fed or not
    silent_since: float | None = None  # loop time the link first found it unreachable
    probing: bool = False  # a GET_INFO probe is queued
    probed_at: float = 0.0  # loop time of the last probe


class Boards:
    def __init__(self, slot_map: SlotMap) -> None:
        self.map = slot_map
        self.status = {address: BoardStatus(address) for address in slot_map.addresses}

    def __iter__(self) -> Iterator[BoardStatus]:
        return iter(self.status.values())

    def readings(self, address: int, statuses: tuple[SlotStatus, ...]) -> inputs.InventoryRead:
        """GET_SLOTS of one board as the controller reads it."""
        readings = []
        for board_slot, slot in enumerate(self.map.slots_of(address), start=1):
            if board_slot <= len(statuses):
                s = statuses[board_slot - 1]
                fields = (s.lock, s.bank_present, s.bank_id, s.charge_pct, s.faults)
            else:
                fields = NO_SUCH_SLOT
            readings.append(inputs.SlotReading(slot, *fields))
        return inputs.InventoryRead(tuple(readings))

    def event(self, address: int, event: Event) -> inputs.SlotChange | None:
        """A board event as the controller takes it; None for one about no cabinet slot (or
        BoardReset and unknown types, which the poller's lost-events callback covers)."""
        if not isinstance(event, BankInserted | BankRemoved | LockChanged | SlotFaultChanged):
            return None
        slot = self.map.cabinet_slot(address, event.slot)
        if slot is None:
            return None
        if isinstance(event, BankInserted):
            return inputs.BankInserted(slot, event.bank_id, event.charge_pct)
        if isinstance(event, BankRemoved):
            return inputs.BankRemoved(slot, event.forced)
        if isinstance(event, LockChanged):
            return inputs.LockChanged(slot, event.lock)
        return inputs.SlotFaultChanged(slot, event.faults)

    def due(
        self, now: float, reachable: Callable[[int], bool]
    ) -> tuple[list[BoardStatus], list[BoardStatus]]:
        """The boards to probe now (loop time `now`), and those answering but not read yet."""
        probe, unread = [], []
        for board in self:
            if board.probing:
                continue
            if board.down:
                if now - board.probed_at >= DOWN_PROBE_S:
                    probe.append(board)
            elif reachable(board.address):
                board.silent_since = None
                if not board.fed:
                    unread.append(board)
            else:
                board.silent_since = board.silent_since or now
                if now - board.silent_since >= PROBE_AFTER_S:
                    probe.append(board)
        return probe, unread

    def probed(self, board: BoardStatus, now: float) -> None:
        board.probing = False
        board.silent_since = None
        board.probed_at = now

    def states(self) -> list[BoardHealth]:
        """For telemetry: each board `ok`, `unreachable`, or `unread` (answering, not read)."""
        return [
            BoardHealth(
                address=board.address,
                state="unreachable" if board.down else "ok" if board.fed else "unread",
            )
            for board in self
        ]

    def new_count_mismatch(self, address: int, count: int) -> bool:
        """Whether `count` differs from the config and was not reported yet for the board."""
        board = self.status[address]
        if count == self.map.slots_per_board or count == board.reported_count:
            return False
        board.reported_count = count
        return True
