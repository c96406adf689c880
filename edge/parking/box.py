"""The parking box: the pure ground-lock controller wired to the slot-board serial link, the
store and the MQTT link.

Start-up, as for the cabinet: the board's queued events are drained and acknowledged without
being fed (they describe the past), then the lock's status is read and fed; from then on the
events are fed as they come. The arm is moved only by RaiseLock/LowerLock intents, one request
at a time on the half-duplex line, each after its durable record.
"""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import JsonValue

from edge.box import BoxServices, ControllerBox, Remember
from edge.commands import VerifiedCommand
from edge.config import ParkingConfig
from edge.intents import HardwareIntent
from edge.parking.commands import InstallerMoveArgs, LowerArgs, RaiseArgs
from edge.parking.controller import ParkingController
from edge.parking.inputs import (
    GroundLockFaultChanged,
    InstallerMove,
    LockStatus,
    Lower,
    LowerDone,
    LowerFailed,
    OccupancyChanged,
    Outcome,
    PositionChanged,
    Raise,
    RaiseDone,
    RaiseFailed,
)
from edge.parking.intents import ArmIntent, LowerLock, RaiseLock
from edge.parking.telemetry import ParkingTelemetry
from edge.serial import (
    BoardNak,
    BoardRequestFailed,
    EventPoller,
    LinkDown,
    LinkTimeout,
    SlotBoardLink,
    actuate,
)
from firmware_protocol.slotboard import (
    BoardReset,
    ErrorCode,
    GetGroundLockRequest,
    GetGroundLockResponse,
    LowerRequest,
    LowerResponse,
    QueuedEvent,
    RaiseRequest,
    RaiseResponse,
)
from firmware_protocol.slotboard import (
    GroundLockFaultChanged as BoardFaultChanged,
)
from firmware_protocol.slotboard import (
    OccupancyChanged as BoardOccupancyChanged,
)
from firmware_protocol.slotboard import (
    PositionChanged as BoardPositionChanged,
)

STATE_KEY = "parking"


STATUS_POLL_S = 10.0
STATUS_RETRY_S = 1.0


def load_controller(config: ParkingConfig, saved: JsonValue) -> ParkingController:
    """The controller as the store left it (`saved`, under STATE_KEY), or a new one."""
    if saved is None:
        return ParkingController(config.move_timeout_s)
    return ParkingController.restore(saved, config.move_timeout_s)


class ParkingBox(ControllerBox[ParkingController]):
    def __init__(self, services: BoxServices) -> None:
        super().__init__(services)
        config = services.config.parking
        assert config is not None, "a parking box needs a [parking] section"
        self._config = config
        self._log = services.logger
        self._drive(lambda saved: load_controller(config, saved), STATE_KEY)
        self.link = SlotBoardLink(config.serial, logger=self._log)
        self._moves: asyncio.Queue[ArmIntent] = asyncio.Queue()
        self._feeding = False
        self._status_due = asyncio.Event()
        self._still = asyncio.Event()  # set while no lower or raise is under way
        self._carried_out()

    async def run(self, ready: asyncio.Event) -> None:
        opened = asyncio.Event()
        poller = EventPoller(
            self.link,
            [self._config.address],
            self._config.event_poll_s,
            self._on_board_event,
            self._on_lost_events,
            logger=self._log,
        )
        tasks = [asyncio.create_task(self.link.run(opened), name="serial")]
        try:
            self._resume_once()
            await opened.wait()
            with contextlib.suppress(LinkTimeout, LinkDown, BoardNak):
                await poller.poll(self._config.address)  # drained, not fed: the past
            self._feeding = True
            await self._read_status()
            tasks += [
                asyncio.create_task(poller.run(), name="events"),
                asyncio.create_task(self._carry_out_moves(), name="moves"),
                asyncio.create_task(self._poll_status(), name="status"),
            ]
            ready.set()
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            self.runner.cancel_timers()

    async def execute(self, command: VerifiedCommand, remember: Remember) -> None:
        args = command.args
        if isinstance(args, LowerArgs):
            self._apply(Lower(command.id, args.order_id), remember)
        elif isinstance(args, RaiseArgs):
            self._apply(Raise(command.id, args.order_id), remember)
        elif isinstance(args, InstallerMoveArgs):
            self._apply(InstallerMove(command.id, args.direction), remember)
        else:
            raise TypeError(f"not a parking command: {command.type}")

    def in_use(self) -> str | None:
        order = self.controller.describe().order
        return None if order is None else f"parking session {order.order_id}"

    def telemetry(self, ts: str) -> ParkingTelemetry:
        view = self.controller.view()
        return ParkingTelemetry(
            ts=ts,
            lock=view.lock,
            occupied=view.occupied,
            order_id=view.order_id,
            link=self.link.health(),
        )

    async def finish(self, timeout_s: float) -> None:
        if self._still.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._still.wait(), timeout_s)

    def _carried_out(self) -> None:
        if self.controller.moving:
            self._still.clear()
        else:
            self._still.set()

    # --- the board ------------------------------------------------------------------

    async def _read_status(self) -> bool:
        try:
            status = await self.link.request(self._config.address, GetGroundLockRequest())
        except (LinkTimeout, LinkDown, BoardNak) as exc:
            self._log.warning("parking.status_unread", error=str(exc))
            return False
        assert isinstance(status, GetGroundLockResponse)
        self._apply(LockStatus(status.position, status.car_present, status.faults))
        return True

    async def _poll_status(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._status_due.wait(), STATUS_POLL_S)
            self._status_due.clear()
            if not await self._read_status():
                await asyncio.sleep(STATUS_RETRY_S)
                self._status_due.set()

    async def _car_over_lock(self) -> bool:
        """Ask the sensor right before raising: events are polled, a car may have just come.
        The board refuses too (NAK OCCUPIED); this keeps the raise from being sent at all."""
        status = await actuate(self.link, self._config.address, GetGroundLockRequest())
        assert isinstance(status, GetGroundLockResponse)
        if status.car_present:
            self._apply(RaiseFailed("occupied"))
        self._apply(LockStatus(status.position, status.car_present, status.faults))
        return status.car_present

    def _on_board_event(self, address: int, queued: QueuedEvent) -> None:
        if not self._feeding:
            return
        event = queued.event
        if isinstance(event, BoardPositionChanged):
            self._apply(PositionChanged(event.position))
        elif isinstance(event, BoardOccupancyChanged):
            self._apply(OccupancyChanged(event.car_present))
        elif isinstance(event, BoardFaultChanged):
            self._apply(GroundLockFaultChanged(event.faults))
        elif isinstance(event, BoardReset):
            self._log.warning("parking.board_reset", reason=event.reason.name)

    def _on_lost_events(self, address: int, reason: str) -> None:
        self._log.warning("parking.events_lost", reason=reason)
        self._status_due.set()

    def _on_hardware(self, intent: HardwareIntent) -> None:
        if not isinstance(intent, RaiseLock | LowerLock):
            raise TypeError(f"not a parking intent: {intent!r}")
        self._moves.put_nowait(intent)

    async def _carry_out_moves(self) -> None:
        while True:
            intent = await self._moves.get()
            raising = isinstance(intent, RaiseLock)
            request = RaiseRequest() if raising else LowerRequest()
            try:
                if raising and await self._car_over_lock():
                    continue
                self._log.info("parking.move_sent", move="raise" if raising else "lower")
                response = await actuate(self.link, self._config.address, request)
            except BoardRequestFailed as failed:
                self._apply(_move_failed(raising, failed))
                if not failed.answered:
                    # The lock is in fault until a report shows the arm: read it as soon as the
                    # board answers again (retried), not at the next periodic poll.
                    self._status_due.set()
                continue
            assert isinstance(response, RaiseResponse | LowerResponse)
            self._apply(RaiseDone(response.position) if raising else LowerDone(response.position))


def _move_failed(raising: bool, failed: BoardRequestFailed) -> Outcome:
    """A raise the board refused for a car is refused (`not_allowed`), as the controller's own
    check would; any other failure is the hardware code."""
    if not raising:
        return LowerFailed(failed.code)
    return RaiseFailed("occupied" if failed.nak is ErrorCode.OCCUPIED else failed.code)
