"""The vehicle box: the pure controller wired to the CAN bus, the store and the MQTT link.

Every batch of intents is made durable first (controller snapshot, records, replies and the
command's replay entry in one transaction) and only then carried out on the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
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
from edge.vehicle.capabilities import Capabilities
from edge.vehicle.commands import (
    EndRentalArgs,
    InstallerLockPulseArgs,
    LockArgs,
    SetServiceArgs,
    StartRentalArgs,
    UnlockArgs,
)
from edge.vehicle.controller import VehicleController
from edge.vehicle.inputs import (
    Command,
    EndRental,
    InstallerLockPulse,
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
ODOMETER_KEY = "vehicle.odometer"
"""Store key of the last trusted odometer reading (km), kept across restarts."""


STALENESS_SLACK_S = 0.005
"""A staleness check runs this long after the first reading's expiry (a reading is stale only
once strictly older than its limit)."""
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
DISCRETE_SIGNALS = ("ignition", "engine_running", "doors_closed", "lock_state", "start_enabled")
_discrete = operator.attrgetter(*DISCRETE_SIGNALS)
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
    if isinstance(args, InstallerLockPulseArgs):
        return InstallerLockPulse(command.id, args.action)
    raise TypeError(f"not a vehicle command: {command.type}")


def load_controller(
    config: VehicleConfig, saved: JsonValue, capabilities: Capabilities | None = None
) -> VehicleController:
    """The controller as the store left it (`saved`, under STATE_KEY), or a new one."""
    able = capabilities or Capabilities()
    if saved is None:
        return VehicleController(config.command_timeout_s, config.command_retries, able)
    return VehicleController.restore(saved, config.command_timeout_s, config.command_retries, able)


class VehicleBox(ControllerBox[VehicleController]):
    def __init__(self, services: BoxServices) -> None:
        super().__init__(services)
        config = services.config.vehicle
        assert config is not None, "a vehicle box needs a [vehicle] section"
        self._log = services.logger
        self.codec = VehicleCodec.load(config.profile)
        self.capabilities = Capabilities.of(self.codec.profile)
        saved_odometer = services.store.get_state(ODOMETER_KEY)
        self.table = SignalTable(
            self.codec.cycle_s,
            NOT_AVAILABLE,
            combine=self.codec.combine,
            trusted_odometer=float(saved_odometer)
            if isinstance(saved_odometer, int | float)
            else None,
            on_trusted_odometer=self._keep_odometer,
        )
        self._drive(lambda saved: load_controller(config, saved, self.capabilities), STATE_KEY)
        self._signals = Signals()
        self._counters: dict[str, int] = {}
        self._last_counters: dict[int, int] = {}
        self.bad_frames = 0
        self.bad_frames_by_reason: dict[str, int] = {}
        self.listen_only = self.codec.listen_only
        self.obd = ObdClient(self._send_frame)
        receive_ids = self.codec.receive_ids
        if not self.listen_only:
            receive_ids |= frozenset(RESPONSE_IDS)
        self.can = CanLink(
            config.can,
            receive_ids=receive_ids,
            on_frame=self._on_frame,
            logger=self._log,
            listen_only=self.listen_only,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._heard = asyncio.Event()  # the bus has shown every signal once
        self._settle_s = SETTLE_CYCLES * max(self.codec.cycle_s.values(), default=0.0)
        if self.listen_only:
            self._log.info("can.listen_only", profile=self.codec.profile.name)
        self._settled_by: float | None = None  # loop time; set when run() starts
        self._staleness: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set when run() starts

    async def run(self, ready: asyncio.Event) -> None:
        opened = asyncio.Event()
        bus = asyncio.create_task(self.can.run(opened), name="can")
        self._loop = asyncio.get_running_loop()
        self._arm_staleness()
        pids = {
            name: (obd_input.pid, obd_input.poll_s)
            for name, obd_input in self.codec.obd_inputs.items()
        }
        poller = asyncio.create_task(
            poll_forever(self.obd, pids, self._on_obd_value)
            if pids and not self.listen_only
            else asyncio.Event().wait(),
            name="obd",
        )
        self._settled_by = asyncio.get_running_loop().time() + self._settle_s
        try:
            self._resume_once()
            await opened.wait()
            ready.set()
            await asyncio.gather(bus, poller)
        finally:
            for task in (bus, poller, *self._tasks):
                task.cancel()
            self.runner.cancel_timers()
            if self._staleness is not None:
                self._staleness.cancel()

    async def execute(self, command: VerifiedCommand, remember: Remember) -> None:
        await self._bus_settled()
        event = to_command(command)
        self._apply(event, remember)
        booked = isinstance(event, StartRental) and self.controller.view().rental == "booked"
        if booked and not self.listen_only:
            self._spawn(self._read_trouble_codes())

    def in_use(self) -> str | None:
        rental = self.controller.describe()
        return None if rental.rental == "none" else f"rental {rental.order_id}"

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
            lock_commanded=view.lock_commanded,
            start_enabled_as_commanded=view.start_enabled_as_commanded,
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
        if arbitration_id in RESPONSE_IDS and not self.listen_only:
            self.obd.on_frame(arbitration_id, data)
            return
        try:
            values = self.codec.decode(arbitration_id, data, self._last_counters)
        except CanDecodeError as exc:
            self.bad_frames += 1
            self.bad_frames_by_reason[exc.reason] = self.bad_frames_by_reason.get(exc.reason, 0) + 1
            return
        if values and self.table.update(values, self.services.clock.mono()):
            self._push_signals()
        if self._staleness is None:
            self._arm_staleness()

    def _on_obd_value(self, name: str, value: float) -> None:
        if self.table.update({name: value}, self.services.clock.mono()):
            self._push_signals()
        if self._staleness is None:
            self._arm_staleness()

    def _arm_staleness(self) -> None:
        """One timer, at the first expiry of a reading held: none while nothing can go stale.
        A refreshed reading only moves its expiry later, so the timer is never late."""
        due = None if self._loop is None else self.table.next_expiry()
        if due is None or self._loop is None:
            self._staleness = None
            return
        delay = max(0.0, due - self.services.clock.mono()) + STALENESS_SLACK_S
        self._staleness = self._loop.call_later(delay, self._expire_stale)

    def _expire_stale(self) -> None:
        self._staleness = None
        if self.table.expire(self.services.clock.mono()):
            self._push_signals()
        self._arm_staleness()

    def _push_signals(self) -> None:
        snapshot = self.table.snapshot(SIGNAL_NAMES)
        if not self._heard.is_set() and None not in (
            snapshot[name] for name in self.codec.inputs if name in snapshot
        ):
            self._heard.set()
        signals = Signals(**snapshot)
        previous, self._signals = self._signals, signals
        if signals == previous:
            return
        if _discrete(signals) != _discrete(previous):
            self.services.telemetry_changed()
        self._apply(SignalsUpdated(signals))

    async def _read_trouble_codes(self) -> None:
        codes = await self.obd.read_stored_dtcs()
        self._apply(TroubleCodes(codes))

    def _send_frame(self, arbitration_id: int, data: bytes) -> bool:
        return self.can.send(arbitration_id, data)

    def _keep_odometer(self, km: float) -> None:
        with self.services.store.transaction() as tx:
            tx.put_state(ODOMETER_KEY, km)

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
