"""The cabinet box: the pure cabinet controller wired to the slot boards on the serial line, the
store and the MQTT link.

Start: the port opens and each board is greeted (GET_INFO, its slot count checked). Then each
board's queued events are drained and acknowledged without being fed (they are the past, which
the reading that follows covers) and its slots are read and fed. From then on its events are
fed as they are fetched (EventPoller.poll, every `event_poll_s`), each made durable before it
is acknowledged. A board that did not answer at start gets the same treatment the first time
it answers.

How the board requests share the line (one at a time, ejects before polls, readings that
count, boards that stop answering) is board_worker.py.
"""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import JsonValue

from edge.box import BoxServices, ControllerBox, Remember
from edge.cabinet import inputs
from edge.cabinet.board_worker import BoardWorker
from edge.cabinet.boards import Boards
from edge.cabinet.commands import CancelArgs, InstallerEjectArgs, RentArgs, ReserveArgs, SetSlotArgs
from edge.cabinet.controller import CabinetController
from edge.cabinet.intents import Eject, LockSlot, ReadInventory
from edge.cabinet.slot_map import SlotMap
from edge.cabinet.telemetry import CabinetLinkHealth, CabinetTelemetry
from edge.commands import VerifiedCommand
from edge.config import CabinetConfig
from edge.intents import HardwareIntent
from edge.serial import BoardNak, EventPoller, LinkDown, LinkTimeout, SlotBoardLink
from edge.wire.fields import EventBody
from firmware_protocol.slotboard import BoardReset, QueuedEvent

STATE_KEY = "cabinet"


START_WAIT_S = 10.0
"""A command that arrives before the slots were first read waits this long for them (then the
controller refuses it as busy)."""
POLL_YIELD_MAX_S = 0.5
"""Event polls wait for queued board requests to be done, but never longer than this."""


def to_command(command: VerifiedCommand) -> inputs.Command:
    args = command.args
    if isinstance(args, ReserveArgs):
        return inputs.Reserve(command.id, args.reservation_id, args.purpose, args.count, args.ttl_s)
    if isinstance(args, RentArgs):
        return inputs.Rent(command.id, args.order_id, args.reservation_id, args.count)
    if isinstance(args, CancelArgs):
        return inputs.Cancel(command.id, args.reservation_id)
    if isinstance(args, SetSlotArgs):
        return inputs.SetSlot(command.id, args.slot, args.enabled)
    if isinstance(args, InstallerEjectArgs):
        return inputs.InstallerEject(command.id, args.slot)
    raise TypeError(f"not a cabinet command: {command.type}")


def load_controller(config: CabinetConfig, saved: JsonValue) -> CabinetController:
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
        self._drive(lambda saved: load_controller(config, saved), STATE_KEY)
        self.link = SlotBoardLink(config.serial, logger=self._log)
        self.poller = EventPoller(
            self.link,
            self.slots.addresses,
            config.event_poll_s,
            self._on_board_event,
            self._on_lost_events,
            logger=self._log,
        )
        self.worker = BoardWorker(
            self.link, self.poller, self.boards, self._apply, self._report, self._log
        )
        self._command_id: str | None = None  # the command whose intents are being carried out
        self._started = asyncio.Event()

    async def run(self, ready: asyncio.Event) -> None:
        opened = asyncio.Event()
        tasks = [asyncio.create_task(self.link.run(opened), name="serial")]
        try:
            self._resume_once()
            await opened.wait()
            await self.worker.start()
            self._started.set()
            ready.set()
            worker = self.worker
            tasks += [
                asyncio.create_task(self._fetch_events(), name="board-events"),
                asyncio.create_task(worker.work_off(), name="board-requests"),
                asyncio.create_task(worker.read_every(self._config.inventory_poll_s), name="read"),
                asyncio.create_task(worker.watch_boards(), name="board-watch"),
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

    def in_use(self) -> str | None:
        described = self.controller.describe()
        held = [f"reservation {r.reservation_id}" for r in described.reservations]
        held += [f"rent {rent.order_id}" for rent in described.rents]
        return ", ".join(held) or None

    def telemetry(self, ts: str) -> CabinetTelemetry:
        events = self.poller.counters
        link = CabinetLinkHealth(
            **self.link.health().model_dump(),
            up=self.link.up,
            events=events.events,
            duplicate_events=events.duplicates,
            overflows=events.overflows,
            board_resets=events.board_resets,
            boards=self.boards.states(),
        )
        return CabinetTelemetry(ts=ts, slots=self.controller.view().slots, link=link)

    async def finish(self, timeout_s: float) -> None:
        """Waits for the Ejects and LockSlots already on their way to have their outcome."""
        if self._started.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.worker.idle.wait(), timeout_s)

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
                    await asyncio.wait_for(self.worker.no_work.wait(), POLL_YIELD_MAX_S)
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
        self.worker.want_read((address,))

    # --- intents --------------------------------------------------------------------

    def _on_hardware(self, intent: HardwareIntent) -> None:
        if isinstance(intent, Eject):
            self.worker.eject(intent.slot, self._command_id)
        elif isinstance(intent, LockSlot):
            self.worker.lock(intent.slot)
        elif isinstance(intent, ReadInventory):
            self.worker.want_read(self.slots.addresses)

    def _report(self, event: EventBody) -> None:
        self.runner.raise_event(event, self.services.clock.now())


__all__ = ["CabinetBox"]
