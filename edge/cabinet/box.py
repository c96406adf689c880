"""The cabinet box: the pure cabinet controller wired to the slot boards on the serial line, the
store and the MQTT link.

Start: the port opens and each board is greeted (GET_INFO, its slot count checked). Then each
board's queued events are drained and acknowledged without being fed (they are the past, which
the reading that follows covers) and its slots are read and fed. From then on its events are
fed as they are fetched (EventPoller.poll, every `event_poll_s`), each made durable before it
is acknowledged. A board that did not answer at start gets the same treatment the first time
it answers.

Board requests (Eject, LockSlot, reads, probes) are worked off one queue, one at a time, and
event polls wait while it holds any: the line is half duplex, and a person at the cabinet waits
for an eject, not for a poll. Each Eject and LockSlot comes back to the controller as exactly
one outcome. An eject or lock that timed out may have been carried out all the same
(PROTOCOL.md section 7), so the board is read before the failure is fed: one that did happen
counts. A reading of a board counts only when the board queued no event while it was read
(`_read_board`), so an event and a reading never tell the same change twice.

A board the link finds unreachable is probed with GET_INFO (boards.py says when); one that does
not answer that either is reported (`board_unreachable`) and its latches read unknown, so its
resting slots show `fault` and none of its banks is reserved or rented. It is then left alone
but for a probe now and then; when it answers again (`board_reachable`) it is read afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from edge.box import BoxServices, ControllerBox, Remember
from edge.cabinet import events as ev
from edge.cabinet.boards import Boards, BoardStatus
from edge.cabinet.controller import CabinetController
from edge.cabinet.intents import Eject, Event, Intent, LockSlot, ReadInventory
from edge.cabinet.slot_map import SlotMap
from edge.commands import VerifiedCommand
from edge.commands.envelope import CancelArgs, RentArgs, ReserveArgs, SetSlotArgs
from edge.config import CabinetConfig
from edge.serial import BoardNak, EventPoller, LinkDown, LinkTimeout, SlotBoardLink
from firmware_protocol.slotboard import (
    BoardReset,
    EjectRequest,
    EjectResponse,
    ErrorCode,
    GetSlotsRequest,
    GetSlotsResponse,
    LockSlotRequest,
    LockSlotResponse,
    LockState,
    Payload,
    QueuedEvent,
)

STATE_KEY = "cabinet"


START_WAIT_S = 10.0
"""A command that arrives before the slots were first read waits this long for them (then the
controller refuses it as busy)."""
WATCH_S = 0.25
POLL_YIELD_MAX_S = 0.5
"""Event polls wait for queued board requests to be done, but never longer than this."""
READ_ATTEMPTS = 3
"""Readings of a board that changed while it was read before the box gives up for now."""
BUSY_ATTEMPTS = 3
BUSY_RETRY_S = 0.1
"""A board answering BUSY (its latch is moving) did nothing; asked again, as a new request."""
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
    """Read the boards in `CabinetBox._reads_due`: asks made before it runs join it."""


@dataclass(frozen=True)
class _Probe:
    address: int


_Work = _Eject | _Lock | _Read | _Probe


def to_command(command: VerifiedCommand) -> ev.Command:
    args = command.args
    if isinstance(args, ReserveArgs):
        return ev.Reserve(command.id, args.reservation_id, args.purpose, args.count, args.ttl_s)
    if isinstance(args, RentArgs):
        return ev.Rent(command.id, args.order_id, args.reservation_id, args.count)
    if isinstance(args, CancelArgs):
        return ev.Cancel(command.id, args.reservation_id)
    if isinstance(args, SetSlotArgs):
        return ev.SetSlot(command.id, args.slot, args.enabled)
    raise TypeError(f"not a cabinet command: {command.type}")


def load_controller(config: CabinetConfig, saved: dict[str, Any] | None) -> CabinetController:
    """The controller as the store left it (`saved`, under STATE_KEY), or a new one."""
    slot_count = SlotMap(config.boards, config.slots_per_board).slot_count
    shape = (slot_count, config.min_charge_pct, config.take_timeout_s)
    if saved is None:
        return CabinetController(*shape)
    return CabinetController.restore(saved, *shape)


class CabinetBox(ControllerBox[CabinetController]):
    def __init__(self, services: BoxServices) -> None:
        super().__init__(services)
        config = services.config.cabinet
        assert config is not None, "a cabinet box needs a [cabinet] section"
        self._config = config
        self._log = services.logger
        self.slots = SlotMap(config.boards, config.slots_per_board)
        self.boards = Boards(self.slots)
        saved = services.store.get_state(STATE_KEY)
        self._drive(load_controller(config, saved), STATE_KEY, saved)
        self._resuming = saved is not None
        self.link = SlotBoardLink(config.serial, logger=self._log)
        self.poller = EventPoller(
            self.link,
            self.slots.addresses,
            config.event_poll_s,
            self._on_board_event,
            self._on_lost_events,
            logger=self._log,
        )
        self._work: asyncio.Queue[_Work] = asyncio.Queue()
        self._reads_due: set[int] | None = None
        self._command_id: str | None = None  # the command whose intents are being carried out
        self._actuations = 0  # Ejects and LockSlots without an outcome yet
        self._idle = asyncio.Event()
        self._idle.set()
        self._no_work = asyncio.Event()  # the request queue is empty and nothing is under way
        self._started = asyncio.Event()

    async def run(self, ready: asyncio.Event) -> None:
        opened = asyncio.Event()
        tasks = [asyncio.create_task(self.link.run(opened), name="serial")]
        try:
            if self._resuming:
                self._resuming = False
                self._carry_out(self.controller.resume(self.services.clock.now()))
            await opened.wait()
            await self._start()
            ready.set()
            tasks += [
                asyncio.create_task(self._fetch_events(), name="board-events"),
                asyncio.create_task(self._work_off(), name="board-requests"),
                asyncio.create_task(self._read_every(self._config.inventory_poll_s), name="read"),
                asyncio.create_task(self._watch_boards(), name="board-watch"),
            ]
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.runner.cancel_timers()

    async def execute(self, command: VerifiedCommand, remember: Remember) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._started.wait(), START_WAIT_S)
        event = to_command(command)
        self._command_id = command.id
        try:
            self._apply(event, remember)
        finally:
            self._command_id = None

    def telemetry(self) -> dict[str, Any]:
        return {**self.controller.view(), "link": self._link_health()}

    async def finish(self, timeout_s: float) -> None:
        """Waits for the Ejects and LockSlots already on their way to have their outcome."""
        if self._started.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout_s)

    # --- start ----------------------------------------------------------------------

    async def _start(self) -> None:
        for board in self.boards:
            await self._probe(board)
        for board in self.boards:
            await self._read_board(board.address)
        self._started.set()

    # --- the board requests, one at a time ------------------------------------------

    async def _work_off(self) -> None:
        while True:
            if self._work.empty():
                self._no_work.set()
            work = await self._work.get()
            self._no_work.clear()
            if isinstance(work, _Eject):
                await self._eject(work)
            elif isinstance(work, _Lock):
                await self._lock(work.slot)
            elif isinstance(work, _Read):
                due, self._reads_due = self._reads_due or set(), None
                for address in self.slots.addresses:
                    if address in due:
                        await self._read_board(address)
            else:
                await self._probe(self.boards.status[work.address])

    async def _eject(self, work: _Eject) -> None:
        where = self.slots.board_slot(work.slot)
        self._log.info(
            "cabinet.eject_sent",
            command_id=work.command_id,
            slot=work.slot,
            board=where.address,
            board_slot=where.slot,
        )
        outcome: ev.Outcome
        try:
            response = await self._actuate(where.address, EjectRequest(where.slot))
        except UNANSWERED as exc:
            self._log.warning("cabinet.eject_unanswered", slot=work.slot, error=str(exc))
            await self._read_board(where.address)
            outcome = ev.EjectFailed(work.slot, "hardware_timeout")
        except BoardNak as nak:
            self._log.warning("cabinet.eject_refused", slot=work.slot, code=nak.code.name)
            outcome = ev.EjectFailed(work.slot, "hardware_fault")
        else:
            assert isinstance(response, EjectResponse)
            outcome = ev.EjectDone(work.slot, response.lock)
        self._outcome(outcome)

    async def _lock(self, slot: int) -> None:
        where = self.slots.board_slot(slot)
        outcome: ev.Outcome
        try:
            response = await self._actuate(where.address, LockSlotRequest(where.slot))
        except UNANSWERED as exc:
            self._log.warning("cabinet.lock_unanswered", slot=slot, error=str(exc))
            await self._read_board(where.address)
            outcome = ev.LockFailed(slot, "hardware_timeout")
        except BoardNak as nak:
            self._log.warning("cabinet.lock_refused", slot=slot, code=nak.code.name)
            outcome = ev.LockFailed(slot, "hardware_fault")
        else:
            assert isinstance(response, LockSlotResponse)
            outcome = ev.LockDone(slot, response.lock)
        self._outcome(outcome)

    async def _actuate(self, address: int, request: Payload) -> Payload:
        for _ in range(BUSY_ATTEMPTS - 1):
            try:
                return await self.link.request(address, request)
            except BoardNak as nak:
                if nak.code is not ErrorCode.BUSY:
                    raise
            await asyncio.sleep(BUSY_RETRY_S)
        return await self.link.request(address, request)

    def _outcome(self, outcome: ev.Outcome) -> None:
        try:
            self._apply(outcome)
        finally:
            self._actuations -= 1
            if not self._actuations:
                self._idle.set()

    async def _read_board(self, address: int) -> None:
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
        self._apply(self.boards.readings(address, response.slots))
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

    def _enqueue(self, work: _Work) -> None:
        self._no_work.clear()
        self._work.put_nowait(work)

    def _want_read(self, addresses: tuple[int, ...]) -> None:
        if self._reads_due is None:
            self._reads_due = set()
            self._enqueue(_Read())
        self._reads_due.update(addresses)

    async def _read_every(self, period_s: float) -> None:
        while True:
            await asyncio.sleep(period_s)
            self._want_read(self.slots.addresses)

    # --- how the boards are doing -----------------------------------------------------

    async def _watch_boards(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_S)
            probe, unread = self.boards.due(loop.time(), self.link.reachable)
            for board in probe:
                board.probing = True
                self._enqueue(_Probe(board.address))
            if unread:
                self._want_read(tuple(board.address for board in unread))

    def _board_lost(self, board: BoardStatus, error: str) -> None:
        if board.down:
            return
        board.down = True
        slots = self.slots.slots_of(board.address)
        self._log.error("cabinet.board_unreachable", board=board.address, error=error)
        self._event("board_unreachable", board=board.address, slots=[slots[0], slots[-1]])
        for slot in slots:
            self._apply(ev.LockChanged(slot, LockState.UNKNOWN))

    def _board_back(self, board: BoardStatus) -> None:
        board.down = False
        slots = self.slots.slots_of(board.address)
        self._log.info("cabinet.board_reachable", board=board.address)
        self._event("board_reachable", board=board.address, slots=[slots[0], slots[-1]])
        self._want_read((board.address,))

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
            self._event(
                "board_slot_count_mismatch",
                board=address,
                board_slots=count,
                slots_per_board=configured,
            )

    def _link_health(self) -> dict[str, Any]:
        events = self.poller.counters
        return {
            "up": self.link.up,
            **self.link.health(),
            "events": events.events,
            "duplicate_events": events.duplicates,
            "overflows": events.overflows,
            "board_resets": events.board_resets,
            "boards": self.boards.states(),
        }

    # --- board events ---------------------------------------------------------------

    async def _fetch_events(self) -> None:
        """Every board's queued events every `event_poll_s`, except a board reported
        unreachable (the watch probes it). Unlike EventPoller.run, a board that timed out once
        is asked again next round: on a noisy line a long GET_EVENTS answer is often lost, and
        its events must not wait seconds, nor its queue overflow meanwhile."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            for board in self.boards:
                if board.down:
                    continue
                # Ejects and locks go first: a person waits at the cabinet for them.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._no_work.wait(), POLL_YIELD_MAX_S)
                try:
                    await self.poller.poll(board.address)
                except LinkDown:
                    break  # the link logs the port; nothing to poll until it is back
                except (LinkTimeout, BoardNak):
                    continue
            await asyncio.sleep(max(0.0, started + self._config.event_poll_s - loop.time()))

    def _on_board_event(self, address: int, queued: QueuedEvent) -> None:
        board = self.boards.status[address]
        board.heard += 1
        if not board.fed:
            return  # the past: the board's first reading covers it
        event = self.boards.event(address, queued.event)
        if event is not None:
            self._apply(event)
        elif isinstance(queued.event, BoardReset):
            self._log.warning("cabinet.board_reset", board=address, reason=queued.event.reason.name)

    def _on_lost_events(self, address: int, reason: str) -> None:
        if not self.boards.status[address].fed:
            return  # its first reading is on its way
        self._log.warning("cabinet.events_lost", board=address, reason=reason)
        self._want_read((address,))

    # --- intents --------------------------------------------------------------------

    def _on_hardware(self, intent: Intent) -> None:
        if isinstance(intent, Eject | LockSlot):
            self._actuations += 1
            self._idle.clear()
            work = (
                _Eject(intent.slot, self._command_id)
                if isinstance(intent, Eject)
                else _Lock(intent.slot)
            )
            self._enqueue(work)
        elif isinstance(intent, ReadInventory):
            self._want_read(self.slots.addresses)

    def _event(self, kind: str, **fields: Any) -> None:
        self.runner.carry_out([Event(kind, fields)], None, self.services.clock.now())


__all__ = ["CabinetBox"]
