"""How the cabinet box uses its serial line: the board requests, one at a time.

Board requests (Eject, LockSlot, reads, probes) are worked off one queue, one at a time, and
event polls wait while it holds any (`no_work`): the line is half duplex, and a person at the
cabinet waits for an eject, not for a poll. Each Eject and LockSlot comes back to the
controller as exactly one outcome, after the BUSY retries of edge.serial.request. An eject or
lock that went unanswered may have been carried out all the same (PROTOCOL.md section 7), so
the board is read before the failure is fed: one that did happen counts. A reading of a board
counts only when the board queued no event while it was read (`read_board`), so an event and
a reading never tell the same change twice.

A board the link finds unreachable is probed with GET_INFO (boards.py says when); one that does
not answer that either is reported (`board_unreachable`) and its latches read unknown, so its
resting slots show `fault` and none of its banks is reserved or rented. It is then left alone
but for a probe now and then; when it answers again (`board_reachable`) it is read afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.cabinet import inputs
from edge.cabinet.boards import Boards, BoardStatus
from edge.cabinet.events import BoardReachable, BoardSlotCountMismatch, BoardUnreachable
from edge.cabinet.slot_map import SlotMap
from edge.serial import BoardNak, EventPoller, LinkDown, LinkTimeout, SlotBoardLink
from edge.serial.request import BoardRequestFailed, actuate
from edge.wire.fields import EventBody
from firmware_protocol.slotboard import (
    EjectRequest,
    EjectResponse,
    GetSlotsRequest,
    GetSlotsResponse,
    LockSlotRequest,
    LockSlotResponse,
    LockState,
)

WATCH_S = 0.25
READ_ATTEMPTS = 3
"""Readings of a board that changed while it was read before the box gives up for now."""
UNANSWERED = (LinkTimeout, LinkDown)


@dataclass(frozen=True)
class _Eject:
    slot: int
    command_id: str | None


@dataclass(frozen=True)
class _Lock:
    slot: int


@dataclass(frozen=True)
class _Read:
    """Read the boards in `BoardWorker._reads_due`: asks made before it runs join it."""


@dataclass(frozen=True)
class _Probe:
    address: int


_Work = _Eject | _Lock | _Read | _Probe


class BoardWorker:
    """The cabinet's board requests on one line. `feed` hands the controller an input (made
    durable before it returns); `report` publishes an event of the line's own."""

    def __init__(
        self,
        link: SlotBoardLink,
        poller: EventPoller,
        boards: Boards,
        feed: Callable[[inputs.CabinetInput], None],
        report: Callable[[EventBody], None],
        logger: Any,
    ) -> None:
        self.link = link
        self.poller = poller
        self.boards = boards
        self.slots: SlotMap = boards.map
        self._feed = feed
        self._report = report
        self._log = logger
        self._work: asyncio.Queue[_Work] = asyncio.Queue()
        self._reads_due: set[int] | None = None
        self._actuations = 0  # Ejects and LockSlots without an outcome yet
        self.idle = asyncio.Event()
        """Set while no Eject or LockSlot waits for its outcome."""
        self.idle.set()
        self.no_work = asyncio.Event()
        """Set while the request queue is empty and nothing is under way."""

    # --- what the box asks for -------------------------------------------------------

    def eject(self, slot: int, command_id: str | None) -> None:
        self._actuation(_Eject(slot, command_id))

    def lock(self, slot: int) -> None:
        self._actuation(_Lock(slot))

    def want_read(self, addresses: tuple[int, ...]) -> None:
        """Read these boards soon, joining a read already queued."""
        if self._reads_due is None:
            self._reads_due = set()
            self._enqueue(_Read())
        self._reads_due.update(addresses)

    async def start(self) -> None:
        """Greet every board, then read every board."""
        for board in self.boards:
            await self._probe(board)
        for board in self.boards:
            await self.read_board(board.address)

    # --- the tasks -------------------------------------------------------------------

    async def work_off(self) -> None:
        """The board requests, one at a time; until cancelled."""
        while True:
            if self._work.empty():
                self.no_work.set()
            work = await self._work.get()
            self.no_work.clear()
            if isinstance(work, _Eject):
                await self._eject(work)
            elif isinstance(work, _Lock):
                await self._lock(work.slot)
            elif isinstance(work, _Read):
                due, self._reads_due = self._reads_due or set(), None
                for address in self.slots.addresses:
                    if address in due:
                        await self.read_board(address)
            else:
                await self._probe(self.boards.status[work.address])

    async def read_every(self, period_s: float) -> None:
        while True:
            await asyncio.sleep(period_s)
            self.want_read(self.slots.addresses)

    async def watch_boards(self) -> None:
        """Probes the boards due for it, reads those answering but not read yet."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_S)
            probe, unread = self.boards.due(loop.time(), self.link.reachable)
            for board in probe:
                board.probing = True
                self._enqueue(_Probe(board.address))
            if unread:
                self.want_read(tuple(board.address for board in unread))

    # --- the requests ----------------------------------------------------------------

    async def _eject(self, work: _Eject) -> None:
        where = self.slots.board_slot(work.slot)
        self._log.info(
            "cabinet.eject_sent",
            command_id=work.command_id,
            slot=work.slot,
            board=where.address,
            board_slot=where.slot,
        )
        outcome: inputs.Outcome
        try:
            response = await actuate(self.link, where.address, EjectRequest(where.slot))
        except BoardRequestFailed as failure:
            if failure.nak is None:
                self._log.warning("cabinet.eject_unanswered", slot=work.slot, error=failure.reason)
                await self.read_board(where.address)
            else:
                self._log.warning("cabinet.eject_refused", slot=work.slot, code=failure.nak.name)
            outcome = inputs.EjectFailed(work.slot, failure.code)
        else:
            assert isinstance(response, EjectResponse)
            outcome = inputs.EjectDone(work.slot, response.lock)
        self._outcome(outcome)

    async def _lock(self, slot: int) -> None:
        where = self.slots.board_slot(slot)
        outcome: inputs.Outcome
        try:
            response = await actuate(self.link, where.address, LockSlotRequest(where.slot))
        except BoardRequestFailed as failure:
            if failure.nak is None:
                self._log.warning("cabinet.lock_unanswered", slot=slot, error=failure.reason)
                await self.read_board(where.address)
            else:
                self._log.warning("cabinet.lock_refused", slot=slot, code=failure.nak.name)
            outcome = inputs.LockFailed(slot, failure.code)
        else:
            assert isinstance(response, LockSlotResponse)
            outcome = inputs.LockDone(slot, response.lock)
        self._outcome(outcome)

    def _outcome(self, outcome: inputs.Outcome) -> None:
        try:
            self._feed(outcome)
        finally:
            self._actuations -= 1
            if not self._actuations:
                self.idle.set()

    async def read_board(self, address: int) -> None:
        """Feed the board's queued events (drained unfed before its first reading), then its
        slots as GET_SLOTS reads them; nothing when it is reported unreachable, does not
        answer, or keeps changing.

        Events and a reading do not say which came first, and an event fed after a reading
        that already shows its effect does harm (a bank taken twice). So a reading counts only
        when the board queued no event from just before it to just after it: its queue is
        fetched before and after, and when the second fetch brought anything the events are
        fed and the reading is taken again."""
        board = self.boards.status[address]
        if board.down:
            return
        try:
            await self.poller.poll(address)
            for _ in range(READ_ATTEMPTS):
                heard = board.heard
                response = await self.link.request(address, GetSlotsRequest())
                await self.poller.poll(address)
                if board.heard == heard:
                    break
            else:
                self._log.warning("cabinet.read_unsettled", board=address)
                return
        except (*UNANSWERED, BoardNak) as exc:
            self._log.warning("cabinet.read_failed", board=address, error=str(exc))
            return
        assert isinstance(response, GetSlotsResponse)
        self._check_count(address, len(response.slots))
        self._feed(self.boards.readings(address, response.slots))
        board.fed = True

    async def _probe(self, board: BoardStatus) -> None:
        try:
            info = await self.link.hello(board.address)
        except (*UNANSWERED, BoardNak) as exc:
            self._board_lost(board, str(exc))
        else:
            self._check_count(board.address, info.slot_count)
            if board.down:
                self._board_back(board)
        finally:
            self.boards.probed(board, asyncio.get_running_loop().time())

    def _actuation(self, work: _Eject | _Lock) -> None:
        self._actuations += 1
        self.idle.clear()
        self._enqueue(work)

    def _enqueue(self, work: _Work) -> None:
        self.no_work.clear()
        self._work.put_nowait(work)

    # --- how the boards are doing ----------------------------------------------------

    def _board_lost(self, board: BoardStatus, error: str) -> None:
        if board.down:
            return
        board.down = True
        slots = self.slots.slots_of(board.address)
        self._log.error("cabinet.board_unreachable", board=board.address, error=error)
        self._report(BoardUnreachable(board=board.address, slots=[slots[0], slots[-1]]))
        for slot in slots:
            self._feed(inputs.LockChanged(slot, LockState.UNKNOWN))

    def _board_back(self, board: BoardStatus) -> None:
        board.down = False
        slots = self.slots.slots_of(board.address)
        self._log.info("cabinet.board_reachable", board=board.address)
        self._report(BoardReachable(board=board.address, slots=[slots[0], slots[-1]]))
        self.want_read((board.address,))

    def _check_count(self, address: int, count: int) -> None:
        if self.boards.new_count_mismatch(address, count):
            configured = self.slots.slots_per_board
            self._log.error(
                "cabinet.slot_count_mismatch",
                board=address,
                board_slots=count,
                slots_per_board=configured,
                note="slots the board lacks read as faults; slots beyond the config are unused",
            )
            self._report(
                BoardSlotCountMismatch(board=address, board_slots=count, slots_per_board=configured)
            )
