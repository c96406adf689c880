"""The vehicle box: the pure controller wired to the CAN bus, the store and the MQTT link.

Every batch of intents is made durable first (controller snapshot, records, replies and the
command's replay entry in one transaction) and only then carried out on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from pydantic import JsonValue

from edge.box import BoxServices, ControllerBox, Remember
from edge.can.link import CanLink
from edge.can.obd import ObdClient, poll_forever
from edge.can.signals import SignalTable
from edge.commands import VerifiedCommand
from edge.config import VehicleConfig
from edge.intents import HardwareIntent
from edge.vehicle.commands import (
    EndRentalArgs,
    LockArgs,
    SetServiceArgs,
    StartRentalArgs,
    UnlockArgs,
)
from edge.vehicle.controller import VehicleController
from edge.vehicle.inputs import (
    Command,
    EndRental,
    Lock,
    SetService,
    Signals,
    SignalsUpdated,
    StartRental,
    Tariff,
    TroubleCodes,
    Unlock,
)
from edge.vehicle.intents import CanCommand, SendCan
from edge.vehicle.telemetry import VehicleTelemetry
from firmware_protocol.can import NOT_AVAILABLE, CanDecodeError, VehicleCodec
from firmware_protocol.obd import RESPONSE_IDS

STATE_KEY = "vehicle"


STALENESS_TICK_S = 0.05
SIGNAL_NAMES = [
    "fuel_pct",
    "odometer_km",
    "speed_kmh",
    "ignition",
    "engine_running",
    "doors_closed",
    "lock_state",
    "start_enabled",
]
# Signals whose change alone is worth a telemetry message; the continuous ones ride along.
DISCRETE_SIGNALS = {"ignition", "engine_running", "doors_closed", "lock_state", "start_enabled"}
# After a start, a command waits until the bus has shown every signal once, at most this many
# cycles of the slowest one: commands queued at the broker while the agent was down arrive at
# once, and would otherwise find the car "unknown" (end_rental refused, a rental started with
# no fuel or odometer reading).
SETTLE_CYCLES = 2.0


def to_command(command: VerifiedCommand) -> Command:
    args = command.args
    if isinstance(args, StartRentalArgs):
        tariff = Tariff(
            per_minute_cents=args.tariff.per_minute_cents,
            fuel_price_cents_per_litre=args.tariff.fuel_price_cents_per_litre,
            tank_litres=args.tariff.tank_litres,
            currency=args.tariff.currency,
        )
        return StartRental(command.id, args.order_id, args.renter, tariff)
    if isinstance(args, UnlockArgs):
        return Unlock(command.id, args.order_id)
    if isinstance(args, LockArgs):
        return Lock(command.id, args.order_id)
    if isinstance(args, EndRentalArgs):
        return EndRental(command.id, args.order_id)
    if isinstance(args, SetServiceArgs):
        return SetService(command.id, args.in_service, args.reason)
    raise TypeError(f"not a vehicle command: {command.type}")


def load_controller(config: VehicleConfig, saved: JsonValue) -> VehicleController:
    """The controller as the store left it (`saved`, under STATE_KEY), or a new one."""
    if saved is None:
        return VehicleController(config.command_timeout_s, config.command_retries)
    return VehicleController.restore(saved, config.command_timeout_s, config.command_retries)


class VehicleBox(ControllerBox[VehicleController]):
    def __init__(self, services: BoxServices) -> None:
        super().__init__(services)
        config = services.config.vehicle
        assert config is not None, "a vehicle box needs a [vehicle] section"
        self._log = services.logger
        self.codec = VehicleCodec.load(config.profile)
        self.table = SignalTable(self.codec.cycle_s, NOT_AVAILABLE)
        self._drive(lambda saved: load_controller(config, saved), STATE_KEY)
        self._signals = Signals()
        self._counters: dict[str, int] = {}
        self.bad_frames = 0
        self.obd = ObdClient(self._send_frame)
        self.can = CanLink(
            config.can,
            receive_ids=self.codec.receive_ids | frozenset(RESPONSE_IDS),
            on_frame=self._on_frame,
            logger=self._log,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._heard = asyncio.Event()  # the bus has shown every signal once
        self._settle_s = SETTLE_CYCLES * max(self.codec.cycle_s.values(), default=0.0)
        self._settled_by: float | None = None  # loop time; set when run() starts

    async def run(self, ready: asyncio.Event) -> None:
        opened = asyncio.Event()
        bus = asyncio.create_task(self.can.run(opened), name="can")
        ticker = asyncio.create_task(self._expire_stale(), name="staleness")
        pids = {
            name: (obd_input.pid, obd_input.poll_s)
            for name, obd_input in self.codec.obd_inputs.items()
        }
        poller = asyncio.create_task(
            poll_forever(self.obd, pids, self._on_obd_value) if pids else asyncio.Event().wait(),
            name="obd",
        )
        self._settled_by = asyncio.get_running_loop().time() + self._settle_s
        try:
            self._resume_once()
            await opened.wait()
            ready.set()
            await asyncio.gather(bus, ticker, poller)
        finally:
            for task in (bus, ticker, poller, *self._tasks):
                task.cancel()
            self.runner.cancel_timers()

    async def execute(self, command: VerifiedCommand, remember: Remember) -> None:
        await self._bus_settled()
        event = to_command(command)
        self._apply(event, remember)
        if isinstance(event, StartRental) and self.controller.view().rental == "booked":
            self._spawn(self._read_trouble_codes())

    def telemetry(self, ts: str) -> VehicleTelemetry:
        signals, view = self._signals, self.controller.view()
        return VehicleTelemetry(
            ts=ts,
            fuel_pct=signals.fuel_pct,
            odometer_km=signals.odometer_km,
            speed_kmh=signals.speed_kmh,
            ignition=signals.ignition,
            engine_running=signals.engine_running,
            doors_closed=signals.doors_closed,
            lock=view.lock,
            start_enabled=view.start_enabled,
            rental=view.rental,
            in_service=view.in_service,
        )

    async def finish(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)

    # --- the bus side ---------------------------------------------------------------

    async def _bus_settled(self) -> None:
        if self._heard.is_set() or self._settled_by is None:
            return
        left = self._settled_by - asyncio.get_running_loop().time()
        if left > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._heard.wait(), left)

    def _on_frame(self, arbitration_id: int, data: bytes) -> None:
        if arbitration_id in RESPONSE_IDS:
            self.obd.on_frame(arbitration_id, data)
            return
        try:
            values = self.codec.decode(arbitration_id, data)
        except CanDecodeError:
            self.bad_frames += 1
            return
        if values and self.table.update(values, self.services.clock.mono()):
            self._push_signals()

    def _on_obd_value(self, name: str, value: float) -> None:
        if self.table.update({name: value}, self.services.clock.mono()):
            self._push_signals()

    async def _expire_stale(self) -> None:
        while True:
            await asyncio.sleep(STALENESS_TICK_S)
            if self.table.expire(self.services.clock.mono()):
                self._push_signals()

    def _push_signals(self) -> None:
        snapshot = self.table.snapshot(SIGNAL_NAMES)
        if None not in (snapshot[name] for name in self.codec.cycle_s if name in snapshot):
            self._heard.set()
        signals = Signals(**snapshot)
        previous, self._signals = self._signals, signals
        if signals == previous:
            return
        if any(getattr(signals, n) != getattr(previous, n) for n in DISCRETE_SIGNALS):
            self.services.telemetry_changed()
        self._apply(SignalsUpdated(signals))

    async def _read_trouble_codes(self) -> None:
        codes = await self.obd.read_stored_dtcs()
        self._apply(TroubleCodes(codes))

    def _send_frame(self, arbitration_id: int, data: bytes) -> bool:
        return self.can.send(arbitration_id, data)

    # --- intents --------------------------------------------------------------------

    def _carried_out(self) -> None:
        if self.controller.command_in_flight:
            self._idle.clear()
        else:
            self._idle.set()

    def _on_hardware(self, intent: HardwareIntent) -> None:
        if isinstance(intent, SendCan):
            self._send_command(intent.command)

    def _send_command(self, name: CanCommand) -> None:
        # The rolling counter runs per message: a receiver drops a repeated counter.
        message = self.codec.profile.commands[name].message
        counter = self._counters.get(message, 0)
        self._counters[message] = counter + 1
        arbitration_id, data = self.codec.encode_command(name, counter)
        sent = self.can.send(arbitration_id, data)
        self._log.info("can.command_sent", command=name, sent=sent)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(self._report_failure)

    def _report_failure(self, task: asyncio.Future[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._log.error("vehicle.task_failed", error=repr(task.exception()))


__all__ = ["VehicleBox"]
