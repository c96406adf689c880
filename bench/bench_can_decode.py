"""CAN frames a second through the vehicle box's decode-and-state path, against raw
python-can + cantools, same frames, same virtual bus, one run (not a test).

    .venv/bin/python bench/bench_can_decode.py [--frames N] [--repeat R]

The frames are the reference car's broadcast mix in cycle proportion (per second of car time:
20 ESP_VehicleSpeed, 10 each of EMS_EngineStatus, BCM_LockStatus, BCM_StartEnableStatus, 1
each of IC_FuelLevel and IC_Odometer), a car driving: the speed changes in every speed frame,
the odometer climbs and the fuel falls; counters and checksums roll. They are encoded before
timing; both paths read them off the same python-can `virtual` bus:

- raw:  bus.send -> bus.recv -> cantools `db.decode_message(id, data)` (choices and scaling).
- ours: bus.send -> bus.recv -> CanLink._deliver (the per-frame step the link runs on every
        message it reads) -> VehicleBox._on_frame: VehicleCodec.decode (length, checksum,
        logical values) -> SignalTable.update -> on a change, Signals + the controller's
        SignalsUpdated + IntentRunner (durable snapshot only when it changed).

Not in either path: the link's reader thread or add_reader hop onto the loop (the same for
every frame, and interface-dependent) and the kernel (a virtual bus is a queue in-process).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import itertools
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import can  # noqa: E402
import structlog  # noqa: E402

from edge.box import BoxServices  # noqa: E402
from edge.clock import BoxClock  # noqa: E402
from edge.config import AgentConfig, parse_config  # noqa: E402
from edge.logs import configure  # noqa: E402
from edge.store import Store  # noqa: E402
from edge.vehicle.box import VehicleBox  # noqa: E402
from firmware_protocol.can import LogicalValue, VehicleCodec  # noqa: E402
from firmware_protocol.can.dbc import load_database  # noqa: E402
from sim.backend import BackendKeys  # noqa: E402

DEVICE = "bench-car"
TICK_S = 0.05  # the fastest cycle (ESP_VehicleSpeed); every broadcast's cycle is a multiple

Frame = tuple[int, bytes]


# --- a real vehicle box, shared with bench_command_latency.py -----------------------------


def quiet_agent_logging() -> None:
    """The agent's own structlog set-up (JSON lines, level info), written to /dev/null."""
    configure("info")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(open(os.devnull, "w")))  # noqa: SIM115


def vehicle_config(
    store_path: Path, channel: str, public_key_b64: str, profile: str = "reference"
) -> AgentConfig:
    text = f"""
[device]
id = "{DEVICE}"
kind = "vehicle"

[mqtt]
url = "mqtt://127.0.0.1:1883"

[security]
backend_public_key = "{public_key_b64}"

[storage]
path = {json.dumps(str(store_path))}

[vehicle]
profile = {json.dumps(profile)}

[vehicle.can]
interface = "virtual"
channel = {json.dumps(channel)}
"""
    return parse_config(text, source="bench")


@contextlib.contextmanager
def vehicle_box(
    workdir: Path, channel: str, public_key_b64: str, profile: str = "reference"
) -> Iterator[tuple[VehicleBox, AgentConfig]]:
    """A VehicleBox with real BoxServices (store on `workdir`, box clock, the agent's
    logging to /dev/null); the outbox, event and telemetry callbacks do nothing."""
    config = vehicle_config(workdir / "edge.db", channel, public_key_b64, profile)
    store = Store(config.storage.path, config.device.id)
    try:
        services = BoxServices(
            config=config,
            store=store,
            clock=BoxClock(store.get_state("clock")),
            outbox_changed=lambda: None,
            publish_event=lambda ts, event: None,
            telemetry_changed=lambda: None,
            logger=structlog.get_logger(component="vehicle"),
        )
        yield VehicleBox(services), config
    finally:
        store.close()


# --- the frames -------------------------------------------------------------------------


def driving(seconds: float) -> dict[str, LogicalValue]:
    """A car `seconds` into a drive: speed sweeping 0..130 km/h, odometer and fuel moving."""
    phase = (seconds % 60.0) / 60.0
    speed = 130.0 * (1 - abs(2 * phase - 1)) + 0.37 * (int(seconds / TICK_S) % 7)
    return {
        "speed_kmh": round(speed, 2),
        "odometer_km": round(12345.6 + seconds * 65 / 3600, 1),
        "fuel_pct": round(max(0.0, 80.0 - seconds * 0.002), 1),
        "ignition": True,
        "engine_running": True,
        "doors_closed": True,
        "lock_state": "unlocked",
        "start_enabled": True,
    }


def broadcast_mix(codec: VehicleCodec, count: int) -> list[Frame]:
    """The first `count` frames the car broadcasts, each message at its own cycle."""
    frames: list[Frame] = []
    for tick in itertools.count():
        values = driving(tick * TICK_S)
        for broadcast in codec.broadcasts:
            every = round(broadcast.cycle_s / TICK_S)
            if tick % every:
                continue
            frames.append(codec.encode_status(broadcast.message, values, counter=tick // every))
            if len(frames) == count:
                return frames
    raise AssertionError("unreachable")


# --- the two paths ----------------------------------------------------------------------


def through_bus(
    frames: list[Frame], handle: Callable[[can.Message], object], channel: str
) -> float:
    """Seconds to send every frame on a virtual bus, receive it, and hand it to `handle`."""
    messages = [can.Message(arbitration_id=i, data=d, is_extended_id=False) for i, d in frames]
    with (
        can.Bus(interface="virtual", channel=channel) as car,
        can.Bus(interface="virtual", channel=channel) as box,
    ):
        started = time.perf_counter()
        for message in messages:
            car.send(message)
            received = box.recv(1.0)
            assert received is not None
            handle(received)
        return time.perf_counter() - started


def per_frame_us(frames: list[Frame], handle: Callable[[int, bytes], object]) -> float:
    started = time.perf_counter()
    for arbitration_id, data in frames:
        handle(arbitration_id, data)
    return (time.perf_counter() - started) / len(frames) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=50_000, help="frames per path per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the median is reported")
    parser.add_argument("--profile", action="store_true", help="cProfile our path, top 25")
    args = parser.parse_args()
    quiet_agent_logging()

    codec = VehicleCodec.load("reference")
    database = load_database(codec.profile.dbc)
    frames = broadcast_mix(codec, args.frames)
    channel = f"bench-can-{os.getpid()}"

    def raw(message: can.Message) -> object:
        # cantools reads any buffer; python-can's data is a bytearray.
        return database.decode_message(message.arbitration_id, message.data)  # type: ignore[arg-type]

    with (
        tempfile.TemporaryDirectory(prefix="bench-can-") as tmp,
        vehicle_box(Path(tmp), channel, BackendKeys.generate().public_key_b64) as (vehicle, _),
    ):
        ours: Callable[[can.Message], object] = vehicle.can._deliver
        pushes = 0
        push_signals = vehicle._push_signals

        def counting_push() -> None:
            nonlocal pushes
            pushes += 1
            push_signals()

        vehicle._push_signals = counting_push  # type: ignore[method-assign]
        warm = frames[: min(len(frames), 2000)]
        through_bus(warm, raw, channel)
        through_bus(warm, ours, channel)
        pushes = 0

        raw_fps: list[float] = []
        our_fps: list[float] = []
        for run in range(args.repeat):
            # Alternate which path goes first, so neither always runs on a warmer machine.
            order: list[tuple[list[float], Callable[[can.Message], object]]] = [
                (raw_fps, raw),
                (our_fps, ours),
            ]
            for rates, handle in order if run % 2 == 0 else order[::-1]:
                rates.append(len(frames) / through_bus(frames, handle, channel))
        changed = pushes / (len(frames) * args.repeat)

        bus_fps = len(frames) / through_bus(frames, lambda message: None, channel)
        cantools_us = per_frame_us(frames, database.decode_message)
        decode_us = per_frame_us(frames, codec.decode)
        on_frame_us = per_frame_us(frames, vehicle._on_frame)

        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(through_bus, frames, ours, channel)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)

    raw_median, our_median = statistics.median(raw_fps), statistics.median(our_fps)
    print(
        f"{len(frames)} frames a run (reference broadcast mix), {args.repeat} runs, "
        f"python-can {can.__version__} virtual bus; {changed:.0%} of frames changed a signal"
    )
    print(f"raw  python-can + cantools decode: {_rates(raw_fps)}")
    print(f"ours CanLink + VehicleBox._on_frame: {_rates(our_fps)}")
    print(
        f"per frame: bus send+recv {1e6 / bus_fps:.1f} us, cantools decode_message "
        f"{cantools_us:.1f} us, VehicleCodec.decode {decode_us:.1f} us, _on_frame "
        f"{on_frame_us:.1f} us (state: {on_frame_us - decode_us:.1f} us)"
    )
    print(f"decode-and-state alone vs cantools alone: {cantools_us / on_frame_us:.2f}")
    print(
        f"RESULT can_decode raw_fps={raw_median:.0f} ours_fps={our_median:.0f} "
        f"ratio={our_median / raw_median:.2f}"
    )


def _rates(rates: list[float]) -> str:
    runs = " ".join(f"{r:.0f}" for r in rates)
    return f"median {statistics.median(rates):8.0f} frames/s  (runs: {runs})"


if __name__ == "__main__":
    main()
