"""The simulated car on its CAN connection: broadcasts, commands, OBD-II, control ops, faults.

Everything runs on the one asyncio loop of `serve()`: frames from the bus arrive as callbacks,
the cyclic broadcasts come from one scheduler task, and an actuator's move is a timer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import math
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import can

from firmware_protocol.can import Broadcast, CanDecodeError, CanEncodeError
from firmware_protocol.obd import PIDS, ObdError, encode_stored_dtcs
from sim.control import ControlError, Simulator, emit, require
from sim.slcan import CanLink, open_can_link

from .car import COMMAND_TARGETS, Car, Drive, Target
from .frames import Background, CarFrames
from .noise import BusNoise
from .obd import ObdEcu
from .ops import (
    DEFAULT_DRIVE_SECONDS,
    DEFAULT_NOISE_HZ,
    FAULTS,
    GAUGES,
    MAX_DRIVE_SECONDS,
    MAX_NOISE_HZ,
    OPS,
)
from .options import Options

DRIVE_TICK_S = 0.1


@dataclass
class Faults:
    lock_stuck: bool = False
    start_stuck: bool = False
    silent: bool = False
    bus_noise: dict[str, float] | None = None  # its parameters while on


@dataclass
class Counters:
    frames_sent: int = 0
    status_frames_sent: int = 0
    background_frames_sent: int = 0  # --full-dbc: the DBC's messages the profile does not read
    obd_frames_sent: int = 0
    noise_frames_sent: int = 0
    frames_received: int = 0
    frames_ignored: int = 0  # ids the car does not listen to, remote and extended frames
    frames_ignored_silent: int = 0  # arrived while the ECUs were dead (fault `silent`)
    commands_received: int = 0
    bad_frames: int = 0  # command frames the codec refused: bad checksum, wrong length, no command
    repeated_counters: int = 0  # command frames dropped for repeating the last counter
    start_disabled_while_running: int = 0  # a safety rule the box must never break


class VehicleSimulator(Simulator):
    """The car's body controller, engine ECU and instrument cluster behind one CAN link."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.codec = options.codec
        self.car = Car(
            fuel_pct=options.fuel_pct,
            odometer_km=options.odometer_km,
            dtcs=list(options.dtcs),
            start_enabled="start_enable" not in self.codec.profile.commands,
        )
        self.faults = Faults()
        self.counters = Counters()
        self._rng = random.Random(options.seed)
        self._frames = CarFrames(
            self.codec, full_dbc=options.full_dbc, unknown_cycle_s=options.unknown_cycle_s
        )
        self._noise = BusNoise(self._frames, self._rng)
        self._obd = ObdEcu(
            lambda ident, data: self._transmit(ident, data, "obd"),
            lambda: self.car.obd_values(self._rng),
            lambda: self.car.dtcs,
        )
        self._link: CanLink | None = None
        self._moving: dict[str, tuple[Target, asyncio.TimerHandle]] = {}
        self._last_counter: dict[int, int | None] = {}
        self._drive: Drive | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ops: dict[str, Callable[[dict[str, Any]], None]] = {
            "set": self._set,
            "ignition": self._ignition,
            "engine": self._engine,
            "door": self._door,
            "drive": self._start_drive,
            "dtcs": self._set_dtcs,
            "fault": self._fault,
        }
        assert set(self._ops) | {"state"} == set(OPS), "every op in the table has a handler"

    # -- Simulator

    async def start(self) -> dict[str, Any]:
        self._link = open_can_link(
            self._on_frame,
            interface=self.options.can_interface,
            channel=self.options.can_channel,
            bitrate=self.options.bitrate,
        )
        try:
            await self._link.start()
        except (can.CanError, OSError, ValueError) as exc:
            raise SystemExit(f"edge-sim vehicle: cannot open the CAN bus: {exc}") from exc
        self._run("broadcasts", self._broadcast_forever())
        return self._link.connect

    async def control(self, op: str, command: dict[str, Any]) -> None:
        handler = self._ops.get(op)
        if handler is None:
            raise ControlError(f"unknown op {op!r}; the ops are {', '.join(OPS)}")
        unknown = set(command) - {"op", *OPS[op].keys}
        if unknown:
            raise ControlError(f"{op} takes no {', '.join(sorted(unknown))}")
        handler(command)

    def state(self) -> dict[str, Any]:
        car = self.car
        return {
            "profile": self.codec.profile.name,
            "lock": car.lock,
            "doors": {
                door: "open" if door in car.doors_open else "closed" for door in self._frames.doors
            },
            "doors_closed": not car.doors_open,
            "start_enabled": car.start_enabled,
            "ignition": car.ignition,
            "engine_running": car.engine_running,
            "engine_rpm": car.rpm(self._rng),
            "speed_kmh": car.speed_kmh,
            "fuel_pct": car.fuel_pct,
            "odometer_km": car.odometer_km,
            "dtcs": list(car.dtcs),
            "moving": {
                actuator: _position_name(target) for actuator, (target, _) in self._moving.items()
            },
            "driving": dataclasses.asdict(self._drive) if self._drive is not None else None,
            "faults": dataclasses.asdict(self.faults),
            "counters": dataclasses.asdict(self.counters),
            "obd": dataclasses.asdict(self._obd.counters),
            "noise_sent": dict(self._noise.sent),
            "frames_by_message": dict(self._frames.sent),
            "link": self._link.stats() if self._link is not None else None,
            "actuator_delay_ms": self.options.actuator_delay_s * 1000,
            "seed": self.options.seed,
        }

    async def stop(self) -> None:
        for _, handle in self._moving.values():
            handle.cancel()
        self._moving.clear()
        await self._obd.close()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._link is not None:
            await self._link.close()
            self._link = None

    # -- the bus

    def _transmit(self, arbitration_id: int, data: bytes, kind: str) -> None:
        if self.faults.silent or self._link is None:
            return
        self._link.send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False))
        self.counters.frames_sent += 1
        if kind == "status":
            self.counters.status_frames_sent += 1
        elif kind == "background":
            self.counters.background_frames_sent += 1
        elif kind == "obd":
            self.counters.obd_frames_sent += 1
        else:
            self.counters.noise_frames_sent += 1

    async def _broadcast_forever(self) -> None:
        """Every cyclic message at its cycle time, on the loop's clock: each due time is the
        last one plus the cycle, so no drift builds up; a cycle missed altogether is skipped."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        order = itertools.count()
        items: list[Broadcast | Background] = [*self._frames.broadcasts, *self._frames.background]
        due = [(start, next(order), item) for item in items]
        heapq.heapify(due)
        while True:
            now = loop.time()
            while due[0][0] <= now:
                when, _, item = heapq.heappop(due)
                self._broadcast(item)
                when += item.cycle_s
                heapq.heappush(due, (when if when > now else now + item.cycle_s, next(order), item))
            await asyncio.sleep(max(0.0, due[0][0] - loop.time()))

    def _broadcast(self, item: Broadcast | Background) -> None:
        if self.faults.silent:  # a dead ECU does not count frames either
            return
        if isinstance(item, Background):
            self._transmit(item.frame_id, item.data, "background")
            return
        arbitration_id, data = self._frames.next_frame(item, self.car, self._rng)
        self._transmit(arbitration_id, data, "status")

    async def _noise_forever(self, rate_hz: float) -> None:
        while True:
            await asyncio.sleep(self._rng.expovariate(rate_hz))
            arbitration_id, data = self._noise.junk(self.car)
            self._transmit(arbitration_id, data, "noise")

    def _on_frame(self, msg: can.Message) -> None:
        self.counters.frames_received += 1
        if self.faults.silent:
            self.counters.frames_ignored_silent += 1
            return
        if msg.is_extended_id or msg.is_remote_frame or msg.is_error_frame:
            self.counters.frames_ignored += 1
            return
        arbitration_id, data = msg.arbitration_id, bytes(msg.data)
        if arbitration_id in self.codec.command_ids:
            self._on_command_frame(arbitration_id, data)
        elif self._obd.hears(arbitration_id):
            self._obd.on_frame(arbitration_id, data)
        else:
            self.counters.frames_ignored += 1

    # -- commands from the box

    def _on_command_frame(self, arbitration_id: int, data: bytes) -> None:
        try:
            command = self.codec.decode_command(arbitration_id, data)
        except CanDecodeError as exc:
            self.counters.bad_frames += 1
            emit("bad_frame", id=arbitration_id, data=data.hex(), reason="codec", detail=str(exc))
            return
        assert command is not None, "a command id always decodes to a command or an error"
        # vehicle.dbc: the BCM ignores a frame with a bad checksum or a repeated counter.
        if (
            command.counter is not None
            and self._last_counter.get(arbitration_id) == command.counter
        ):
            self.counters.repeated_counters += 1
            emit(
                "bad_frame",
                id=arbitration_id,
                data=data.hex(),
                reason="repeated_counter",
                detail=f"{command.name} with counter {command.counter} again",
            )
            return
        self._last_counter[arbitration_id] = command.counter
        self.counters.commands_received += 1
        emit("command", name=command.name, counter=command.counter)
        target = COMMAND_TARGETS[command.name]
        moving = self._moving.pop(target.actuator, None)
        if moving is not None:
            moving[1].cancel()
        handle = asyncio.get_running_loop().call_later(
            self.options.actuator_delay_s, self._actuate, command.name, target
        )
        self._moving[target.actuator] = (target, handle)

    def _actuate(self, command: str, target: Target) -> None:
        self._moving.pop(target.actuator, None)
        car = self.car
        stuck = self.faults.lock_stuck if target.actuator == "lock" else self.faults.start_stuck
        if stuck:
            emit(
                "stuck",
                actuator=target.actuator,
                command=command,
                position=_position_name(Target(target.actuator, car.position(target.actuator))),
            )
            return
        changed = car.position(target.actuator) != target.position
        if target == COMMAND_TARGETS["start_disable"] and changed and car.engine_running:
            self.counters.start_disabled_while_running += 1
        car.move(target)
        if target.actuator == "lock":
            emit("lock", state=car.lock, changed=changed)
        else:
            emit(
                "start_enable",
                enabled=car.start_enabled,
                changed=changed,
                engine_running=car.engine_running,
            )

    # -- control ops

    def _set(self, command: dict[str, Any]) -> None:
        changes = {key: _gauge(command, key) for key in GAUGES if key in command}
        if not changes:
            raise ControlError(f"set needs one of {', '.join(GAUGES)}")
        if self._drive is not None:
            raise ControlError("the car is driving: wait for the drive to end")
        changed = dataclasses.replace(self.car)
        for key, value in changes.items():
            setattr(changed, key, value)
        self._require_carried(changed)
        self.car = changed
        emit("set", **changes)

    def _ignition(self, command: dict[str, Any]) -> None:
        on = require(command, "on", bool)
        if not on and self._drive is not None:
            raise ControlError("the car is driving: wait for the drive to end")
        self.car.ignition = on
        if not on and self.car.engine_running:
            self.car.engine_running = False
            emit("engine", running=False, ignition=False)
        emit("ignition", on=on)

    def _engine(self, command: dict[str, Any]) -> None:
        running = require(command, "running", bool)
        car = self.car
        if running and not car.engine_running and not car.start_enabled:
            emit("engine", running=False, ignition=car.ignition, refused="start_disabled")
            return
        if not running and self._drive is not None:
            raise ControlError("the car is driving: wait for the drive to end")
        car.engine_running = running
        car.ignition = running  # the start/stop button: ignition and engine on, or both off
        emit("engine", running=running, ignition=car.ignition)

    def _door(self, command: dict[str, Any]) -> None:
        is_open = require(command, "open", bool)
        doors = self._frames.doors
        if not doors:
            raise ControlError("this car's profile reads no door switch")
        door = command.get("door", next(iter(doors)))
        if not isinstance(door, str) or door not in doors:
            raise ControlError(f"'door' is one of {', '.join(doors)}")
        if is_open:
            self.car.doors_open.add(door)
        else:
            self.car.doors_open.discard(door)
        emit("door", door=door, open=is_open, doors_closed=not self.car.doors_open)

    def _start_drive(self, command: dict[str, Any]) -> None:
        km = _number(command, "km")
        fuel_used = _number(command, "fuel_pct_used")
        seconds = _number(command, "seconds") if "seconds" in command else DEFAULT_DRIVE_SECONDS
        if km <= 0:
            raise ControlError("'km' must be above 0")
        if not 0 < seconds <= MAX_DRIVE_SECONDS:
            raise ControlError(f"'seconds' must be above 0 and at most {MAX_DRIVE_SECONDS:g}")
        car = self.car
        if self._drive is not None:
            raise ControlError("the car is driving already")
        if not car.engine_running:
            raise ControlError("the engine is not running")
        if car.odometer_km is None or car.fuel_pct is None:
            raise ControlError("set the odometer and the fuel to numbers first")
        if fuel_used > car.fuel_pct:
            raise ControlError(f"'fuel_pct_used' is more than the {car.fuel_pct} % in the tank")
        drive = Drive(car.odometer_km, car.fuel_pct, km, fuel_used, seconds)
        odometer, fuel = drive.at(1.0)
        self._require_carried(
            dataclasses.replace(car, odometer_km=odometer, fuel_pct=fuel, speed_kmh=drive.speed_kmh)
        )
        self._drive = drive
        car.speed_kmh = drive.speed_kmh
        emit(
            "drive",
            done=False,
            km=km,
            fuel_pct_used=fuel_used,
            seconds=seconds,
            speed_kmh=drive.speed_kmh,
        )
        self._run("drive", self._drive_on(drive))

    async def _drive_on(self, drive: Drive) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while (elapsed := loop.time() - start) < drive.seconds:
            self.car.odometer_km, self.car.fuel_pct = drive.at(elapsed / drive.seconds)
            await asyncio.sleep(min(DRIVE_TICK_S, drive.seconds - elapsed))
        car = self.car
        car.odometer_km, car.fuel_pct = drive.at(1.0)
        car.speed_kmh = 0.0
        self._drive = None
        emit(
            "drive",
            done=True,
            odometer_km=car.odometer_km,
            fuel_pct=car.fuel_pct,
            km=drive.km,
            fuel_pct_used=drive.fuel_used,
        )

    def _set_dtcs(self, command: dict[str, Any]) -> None:
        codes = require(command, "codes", list)
        if not all(isinstance(code, str) for code in codes):
            raise ControlError("'codes' is a list of strings like P0301")
        try:
            encode_stored_dtcs(codes)
        except ObdError as exc:
            raise ControlError(f"'codes': {exc}") from None
        self.car.dtcs = list(codes)
        emit("dtcs", codes=self.car.dtcs)

    def _fault(self, command: dict[str, Any]) -> None:
        name = require(command, "name", str)
        on = require(command, "on", bool)
        if name not in FAULTS:
            raise ControlError(f"unknown fault {name!r}; the faults are {', '.join(FAULTS)}")
        unknown = set(command) - {"op", "name", "on", *FAULTS[name].keys}
        if unknown:
            raise ControlError(f"fault {name} takes no {', '.join(sorted(unknown))}")
        params: dict[str, float] = {}
        if name == "lock_stuck":
            self.faults.lock_stuck = on
        elif name == "start_stuck":
            self.faults.start_stuck = on
        elif name == "silent":
            self.faults.silent = on
            if on:
                self._obd.abort()
        else:
            params = self._switch_noise(command, on)
        emit("fault", name=name, on=on, **params)

    def _switch_noise(self, command: dict[str, Any], on: bool) -> dict[str, float]:
        rate_hz = _number(command, "rate_hz") if "rate_hz" in command else DEFAULT_NOISE_HZ
        if not 0 < rate_hz <= MAX_NOISE_HZ:
            raise ControlError(f"'rate_hz' must be above 0 and at most {MAX_NOISE_HZ:g}")
        running = self._tasks.pop("noise", None)
        if running is not None:
            running.cancel()
        if not on:
            self.faults.bus_noise = None
            return {}
        self.faults.bus_noise = {"rate_hz": rate_hz}
        self._run("noise", self._noise_forever(rate_hz))
        return {"rate_hz": rate_hz}

    # -- helpers

    def _require_carried(self, car: Car) -> None:
        """ControlError unless the DBC and the OBD-II PIDs can carry the car's values."""
        try:
            self._frames.check(car, self._rng)
            for pid, value in car.obd_values(self._rng).items():
                if value is not None:
                    PIDS[pid].encode(value)
        except (CanEncodeError, ObdError) as exc:
            raise ControlError(str(exc)) from None

    def _run(self, name: str, coroutine: Coroutine[Any, Any, None]) -> None:
        """A background task; if it dies of anything but cancellation, an error line says so."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks[name] = task
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if self._tasks.get(task.get_name()) is task:
            del self._tasks[task.get_name()]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            emit("error", error="task_failed", task=task.get_name(), detail=repr(exc))


def _position_name(target: Target) -> str:
    if target.actuator == "lock":
        return str(target.position)
    return "enabled" if target.position else "disabled"


def _number(command: dict[str, Any], key: str) -> float:
    value = require(command, key, (int, float))
    if not math.isfinite(value) or value < 0:
        raise ControlError(f"{key!r} must be a finite number >= 0")
    return float(value)


def _gauge(command: dict[str, Any], key: str) -> float | None:
    """A gauge for `set`: a number >= 0, or None for "not available"."""
    return None if command[key] is None else _number(command, key)
