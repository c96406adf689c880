"""Latency from a signed command received to its CAN frame written, p50 / p99 (not a test).

    .venv/bin/python bench/bench_command_latency.py [--commands N] [--dir DIR]

One process, one asyncio loop: a real VehicleBox (real store, box clock, the agent's logging
to /dev/null) running its CanLink on a python-can `virtual` bus, and on the same channel a
small fake body controller that broadcasts the parked car's status mix at its cycle rates
and answers every lock / start-enable command with the status frame showing it done, so each
operation completes. Commands come from sim.backend's Backend, signed, as the bytes MQTT
would hand over, through the real CommandGate and CommandVerifier.

After one start_rental, unlock and lock alternate. Each sample runs from the call of
`await gate.handle(raw)` to the return of python-can's `bus.send` for the command's
BOX_LockCommand frame (the frame is then in the other bus's queue): JSON and schema checks,
the Ed25519 signature, the replay lookup, the controller, the durable commit (SQLite WAL,
synchronous=FULL: one fsync) and the CAN write. The next command goes once the operation
has finished (the car's confirmation, start enable, the reply committed) and a random pause.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

import can  # noqa: E402
import structlog  # noqa: E402
from bench_can_decode import DEVICE, quiet_agent_logging, vehicle_box  # noqa: E402

from edge.can.obd import RESPONSE_TIMEOUT_S  # noqa: E402
from edge.command_gate import CommandGate  # noqa: E402
from edge.commands import CommandVerifier  # noqa: E402
from edge.store import Store  # noqa: E402
from edge.vehicle.box import VehicleBox  # noqa: E402
from firmware_protocol.can import LogicalValue, VehicleCodec  # noqa: E402
from sim.backend import Backend  # noqa: E402

TARIFF = {
    "per_minute_cents": 25,
    "fuel_price_cents_per_litre": 189,
    "tank_litres": 50,
    "currency": "EUR",
}
MAX_PAUSE_S = 0.01  # between commands: they arrive anywhere in the bus's 50 ms cycle
OPERATION_TIMEOUT_S = 5.0
TICK_S = 0.05

POSITIONS: dict[str, tuple[str, LogicalValue]] = {
    "lock": ("lock_state", "locked"),
    "unlock": ("lock_state", "unlocked"),
    "start_enable": ("start_enabled", True),
    "start_disable": ("start_enabled", False),
}


class FakeBodyController:
    """A parked car on the bus: its status mix at the cycle rates, and each command obeyed
    at once with the status frame that shows it."""

    def __init__(self, codec: VehicleCodec, channel: str) -> None:
        self._codec = codec
        self._bus = can.Bus(interface="virtual", channel=channel)
        self._counter = 0
        self.values: dict[str, LogicalValue] = {
            "fuel_pct": 80.0,
            "odometer_km": 12345.6,
            "speed_kmh": 0.0,
            "ignition": False,
            "engine_running": False,
            "doors_closed": True,
            "lock_state": "locked",
            "start_enabled": False,
        }
        self._carrier = {name: b.message for b in codec.broadcasts for name in b.inputs}

    async def run(self) -> None:
        reader = can.AsyncBufferedReader()
        notifier = can.Notifier(self._bus, [reader], loop=asyncio.get_running_loop())
        cyclic = asyncio.create_task(self._broadcast())
        try:
            async for message in reader:
                self._obey(message)
        finally:
            cyclic.cancel()
            notifier.stop()
            self._bus.shutdown()

    def _obey(self, message: can.Message) -> None:
        command = self._codec.decode_command(message.arbitration_id, bytes(message.data))
        if command is None:
            return
        name, value = POSITIONS[command.name]
        self.values[name] = value
        self._send(self._carrier[name])

    async def _broadcast(self) -> None:
        for tick in itertools.count():
            for broadcast in self._codec.broadcasts:
                if tick % round(broadcast.cycle_s / TICK_S) == 0:
                    self._send(broadcast.message)
            await asyncio.sleep(TICK_S)

    def _send(self, message: str) -> None:
        self._counter += 1
        arbitration_id, data = self._codec.encode_status(
            message, self.values, counter=self._counter
        )
        self._bus.send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False))


@dataclass
class Sample:
    """One command: where its time went until its frame was written (seconds)."""

    started: float = 0.0
    written: float | None = None
    finished: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        assert self.written is not None, "the command frame was not written within handle()"
        return self.written - self.started


def _wrap(owner: object, method: str, wrapper: Callable[[Any], Any]) -> None:
    """Replace `owner.method` (on this instance only) by `wrapper(owner.method)`."""
    setattr(owner, method, wrapper(getattr(owner, method)))


class Stopwatch:
    """Times the steps of the command path by wrapping them on the live objects."""

    def __init__(self, box: VehicleBox, store: Store, verifier: CommandVerifier) -> None:
        self.sample: Sample | None = None
        self._lock_command_id, _ = box.codec.encode_command("lock", 0)
        _wrap(verifier, "verify", lambda verify: self._timed("verify", verify))
        _wrap(box.can, "send", self._timed_send)
        _wrap(store, "transaction", lambda transaction: self._timed_block("commit", transaction))

    def start(self) -> Sample:
        self.sample = Sample(started=time.perf_counter())
        return self.sample

    def _add(self, part: str, seconds: float) -> None:
        sample = self.sample
        if sample is not None and sample.written is None:
            sample.parts[part] = sample.parts.get(part, 0.0) + seconds

    def _timed(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._add(part, time.perf_counter() - started)

        return timed

    def _timed_block(
        self, part: str, function: Callable[[], contextlib.AbstractContextManager[Any]]
    ) -> Callable[[], contextlib.AbstractContextManager[Any]]:
        @contextlib.contextmanager
        def timed() -> Iterator[Any]:
            started = time.perf_counter()
            try:
                with function() as value:
                    yield value
            finally:
                self._add(part, time.perf_counter() - started)

        return timed

    def _timed_send(self, send: Callable[[int, bytes], bool]) -> Callable[[int, bytes], bool]:
        def timed(arbitration_id: int, data: bytes) -> bool:
            started = time.perf_counter()
            sent = send(arbitration_id, data)
            done = time.perf_counter()
            self._add("send", done - started)
            sample = self.sample
            if arbitration_id == self._lock_command_id and sample and sample.written is None:
                sample.written = done
            return sent

        return timed


def reply_status(store: Store, after_id: int, command_id: str) -> tuple[str, int]:
    """The status of the reply to `command_id` among the outbox items after `after_id`."""
    items = store.outbox_pending(after_id=after_id, limit=1000)
    last = items[-1].id if items else after_id
    for item in items:
        payload = json.loads(item.payload)
        if item.topic == "replies" and payload["command_id"] == command_id:
            return " ".join(
                str(payload[k]) for k in ("status", "code", "detail") if payload[k]
            ), last
    return "no reply", last


class RunningCar:
    """The box and its car, booked: `command()` times one unlock or lock."""

    def __init__(self, box: VehicleBox, verifier: CommandVerifier, backend: Backend) -> None:
        self.box = box
        self._store = box.services.store
        log = structlog.get_logger(component="commands")
        self.gate = CommandGate(verifier, self._store, box, lambda: None, log)
        self._backend = backend
        self._stopwatch = Stopwatch(box, self._store, verifier)
        self._last_id = 0
        self._sent = 0

    async def book(self) -> None:
        booking = self._backend.start_rental(DEVICE, "o-1", "bench", TARIFF)
        await self.gate.handle(_raw(booking))
        status, self._last_id = reply_status(self._store, 0, booking["id"])
        if status != "ok":
            raise RuntimeError(f"start_rental replied {status}")
        await asyncio.sleep(RESPONSE_TIMEOUT_S + 0.2)  # the DTC read nobody answers

    async def command(self) -> Sample:
        """After a random pause, an unlock (or a lock, every other time), timed."""
        await asyncio.sleep(random.uniform(0, MAX_PAUSE_S))
        n, self._sent = self._sent, self._sent + 1
        build = self._backend.unlock if n % 2 == 0 else self._backend.lock
        envelope = build(DEVICE, "o-1", expires_in_s=600)
        raw = _raw(envelope)
        sample = self._stopwatch.start()
        await self.gate.handle(raw)
        await self.box.finish(OPERATION_TIMEOUT_S)
        sample.finished = time.perf_counter()
        status, self._last_id = reply_status(self._store, self._last_id, envelope["id"])
        if status != "ok":
            raise RuntimeError(f"command {n} ({envelope['type']}) replied {status}")
        return sample


@contextlib.asynccontextmanager
async def running_car(workdir: Path, backend: Backend) -> AsyncIterator[RunningCar]:
    """A VehicleBox with its fake car on a virtual bus, ready and booked for order o-1."""
    channel = f"bench-cmd-{os.getpid()}"
    with vehicle_box(workdir, channel, backend.keys.public_key_b64) as (box, config):
        car = FakeBodyController(box.codec, channel)
        ready = asyncio.Event()
        tasks = [asyncio.create_task(box.run(ready)), asyncio.create_task(car.run())]
        try:
            await asyncio.wait_for(ready.wait(), 5)
            await asyncio.sleep(0.3)  # the box has seen every status message
            running = RunningCar(box, CommandVerifier.for_config(config), backend)
            await running.book()
            yield running
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def measure(workdir: Path, count: int) -> list[Sample]:
    async with running_car(workdir, Backend()) as car:
        return [await car.command() for _ in range(count)]


def _raw(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope).encode()


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=500, help="unlock/lock commands timed")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the store file")
    args = parser.parse_args()
    quiet_agent_logging()
    with tempfile.TemporaryDirectory(prefix="bench-cmd-", dir=args.dir) as tmp:
        samples = asyncio.run(measure(Path(tmp), args.commands))
    totals = sorted(s.total * 1e3 for s in samples)
    print(
        f"{len(samples)} commands (unlock/lock alternating, after start_rental), "
        f"store in {args.dir or tempfile.gettempdir()}, python-can virtual bus"
    )
    print(
        f"handle() -> command frame written: p50 {percentile(totals, 0.5):.2f} ms, "
        f"p99 {percentile(totals, 0.99):.2f} ms, max {totals[-1]:.2f} ms, "
        f"mean {statistics.fmean(totals):.2f} ms"
    )
    for part in ("verify", "commit", "send"):
        values = sorted(s.parts.get(part, 0.0) * 1e3 for s in samples)
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(f"  {part:<6} p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    rest = sorted((s.total - sum(s.parts.values())) * 1e3 for s in samples)
    print(
        f"  rest   p50 {percentile(rest, 0.5):.2f} ms, p99 {percentile(rest, 0.99):.2f} ms"
        "  (parse into the box's event, controller, snapshot, log lines, encode)"
    )
    whole = sorted((s.finished - s.started) * 1e3 for s in samples)
    print(
        f"whole operation (both confirmations from the car, ok reply committed): "
        f"p50 {percentile(whole, 0.5):.2f} ms, p99 {percentile(whole, 0.99):.2f} ms"
    )
    print(
        f"RESULT command_latency p50_ms={percentile(totals, 0.5):.2f} "
        f"p99_ms={percentile(totals, 0.99):.2f} max_ms={totals[-1]:.2f}"
    )


if __name__ == "__main__":
    main()
