"""A real car's whole bus through the box, against python-can + cantools, one run (not a test).

    .venv/bin/python bench/bench_real_car.py [--profile vw_golf_mk7] [--seconds 10]
                                             [--cycle-ms 50] [--frames 30000] [--repeat 3]

1. CPU share. `edge-sim vehicle --profile P --full-dbc --full-dbc-cycle-ms C` plays every
   message of the car's DBC at its cycle time (C for the many a reverse-engineered DBC gives
   none) over SLCAN on a pty. The agent runs on it as a process (mosquitto, the whole rig of
   testbed/rig.py); its CPU time (utime + stime of /proc/PID/stat) over `--seconds`, once it
   is serving, is its share of one core. Then, on the same adapter and stream, two child
   processes of plain python-can (`slcan`, the agent's own connect keys) + cantools, each for
   the same time: `all` decodes every frame with `db.decode_message`; `read` gives python-can
   the profile's ids as receive filters and decodes those.
2. Frames/s in one process (as bench_can_decode.py, a python-can `virtual` bus): the same
   mix, encoded before timing by the simulator's own frame code (a car driving), through
   - raw: recv -> cantools decode_message, every frame;
   - raw, filtered: the bus filtered to the profile's ids -> decode_message;
   - ours: the bus filtered as CanLink filters it -> CanLink._deliver -> VehicleBox._on_frame
     (decode, checks, SignalTable, controller on a change).
   And the per-frame cost, no bus, of the frames the profile reads: VehicleBox._on_frame
   against cantools decode_message (the issue's aim: at most 1.25x).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import can  # noqa: E402
from bench_can_decode import per_frame_us, quiet_agent_logging, vehicle_box  # noqa: E402

from firmware_protocol.can import VehicleCodec  # noqa: E402
from sim.backend import BackendKeys  # noqa: E402
from sim.vehicle.car import Car, Drive  # noqa: E402
from sim.vehicle.frames import Background, CarFrames  # noqa: E402
from testbed.rig import BoxRig  # noqa: E402

Frame = tuple[int, bytes]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- 1. CPU share of the agent vs plain python-can + cantools ------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def agent_share(rig: BoxRig, seconds: float) -> float:
    assert rig.agent is not None
    pid = rig.agent.proc.pid
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)


def baseline_child(connect: dict[str, Any], profile: str, mode: str, seconds: float) -> None:
    """Runs in a child process: python-can + cantools on the stream; one JSON line of figures."""
    codec = VehicleCodec.load(profile)
    database = codec._loaded.database
    filters = None
    if mode == "read":
        filters = [{"can_id": i, "can_mask": 0x7FF, "extended": False} for i in codec.receive_ids]
    bus = can.Bus(
        interface=connect["interface"],
        channel=connect["channel"],
        bitrate=connect["bitrate"],
        can_filters=filters,
        **connect["options"],
    )
    frames = decoded = 0
    start_cpu, start = time.process_time(), time.monotonic()
    while (left := start + seconds - time.monotonic()) > 0:
        message = bus.recv(left)
        if message is None:
            continue
        frames += 1
        try:
            database.decode_message(message.arbitration_id, message.data)
            decoded += 1
        except (KeyError, ValueError):
            pass
    cpu, wall = time.process_time() - start_cpu, time.monotonic() - start
    bus.shutdown()
    print(json.dumps({"share": cpu / wall, "fps": frames / wall, "decoded": decoded / wall}))


def baseline_share(connect: dict[str, Any], profile: str, mode: str, seconds: float) -> Any:
    child = [sys.executable, __file__, "--child", json.dumps(connect), profile, mode, str(seconds)]
    done = subprocess.run(child, capture_output=True, text=True, check=True, timeout=seconds + 30)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cpu_figures(profile: str, seconds: float, cycle_ms: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-car-") as tmp:
        sim_args = ("--profile", profile, "--full-dbc", "--full-dbc-cycle-ms", f"{cycle_ms:g}")
        rig = BoxRig(
            Path(tmp),
            "vehicle",
            device_id="bench-car",
            sim_args=sim_args,
            box_settings={"vehicle": {"profile": profile}},
        )
        try:
            rig.start_agent()
            rig.sim.send(op="engine", running=True)
            time.sleep(1.0)  # the agent's start-up done, the engine running
            sent_before = rig.sim.state()["counters"]["frames_sent"]
            start = time.monotonic()
            ours = agent_share(rig, seconds)
            bus_fps = (rig.sim.state()["counters"]["frames_sent"] - sent_before) / (
                time.monotonic() - start
            )
            assert rig.agent is not None
            rig.agent.stop()
            connect = dict(rig.sim.connect)
            every = baseline_share(connect, profile, "all", seconds)
            read = baseline_share(connect, profile, "read", seconds)
        finally:
            rig.close()
    return {"bus_fps": bus_fps, "ours": ours, "all": every, "read": read}


# --- 2. Frames/s in one process ---------------------------------------------------------


def full_mix(profile: str, count: int, cycle_ms: float) -> tuple[VehicleCodec, list[Frame]]:
    """The first `count` frames of the car's whole bus, driving, as the simulator sends them."""
    codec = VehicleCodec.load(profile)
    frames = CarFrames(codec, full_dbc=True, unknown_cycle_s=cycle_ms / 1000)
    car = Car(fuel_pct=80.0, odometer_km=12345.6, ignition=True, engine_running=True)
    drive = Drive(12345.6, 80.0, km=500.0, fuel_used=40.0, seconds=18000.0)
    rng = random.Random(1)
    order = itertools.count()
    items: list[Any] = [*frames.broadcasts, *frames.background]
    due = [(0.0, next(order), item) for item in items]
    heapq.heapify(due)
    out: list[Frame] = []
    while len(out) < count:
        when, _, item = heapq.heappop(due)
        car.odometer_km, car.fuel_pct = drive.at(when / drive.seconds)
        car.speed_kmh = round(60 + 40 * ((when * 7) % 1.0), 2)
        if isinstance(item, Background):
            out.append((item.frame_id, item.data))
        else:
            out.append(frames.next_frame(item, car, rng))
        heapq.heappush(due, (when + item.cycle_s, next(order), item))
    return codec, out


def through_bus(frames: list[Frame], handle: Any, channel: str, filters: Any) -> float:
    messages = [can.Message(arbitration_id=i, data=d, is_extended_id=False) for i, d in frames]
    with (
        can.Bus(interface="virtual", channel=channel) as car,
        can.Bus(interface="virtual", channel=channel, can_filters=filters) as box,
    ):
        box.set_filters(filters)
        started = time.perf_counter()
        for message in messages:
            car.send(message)
            received = box.recv(0)
            if received is not None:
                handle(received)
        return time.perf_counter() - started


def throughput(profile: str, count: int, repeat: int, cycle_ms: float) -> dict[str, Any]:
    codec, frames = full_mix(profile, count, cycle_ms)
    database = codec._loaded.database
    read = [f for f in frames if f[0] in codec.receive_ids]
    channel = f"bench-car-{os.getpid()}"

    def raw(message: can.Message) -> object:
        try:
            return database.decode_message(message.arbitration_id, message.data)  # type: ignore[arg-type]
        except KeyError:
            return None

    with (
        tempfile.TemporaryDirectory(prefix="bench-car-") as tmp,
        vehicle_box(Path(tmp), channel, BackendKeys.generate().public_key_b64, profile) as (
            vehicle,
            _,
        ),
    ):
        filters = vehicle.can._filters
        paths = {
            "raw": (raw, None),
            "raw_filtered": (raw, filters),
            "ours": (vehicle.can._deliver, filters),
        }
        rates: dict[str, list[float]] = {name: [] for name in paths}
        for handle, bus_filters in paths.values():
            through_bus(frames[:2000], handle, channel, bus_filters)
        for run in range(repeat):
            names = list(paths) if run % 2 == 0 else list(paths)[::-1]
            for name in names:
                handle, bus_filters = paths[name]
                rates[name].append(len(frames) / through_bus(frames, handle, channel, bus_filters))
        cantools_us = statistics.median(
            per_frame_us(read, database.decode_message) for _ in range(repeat)
        )
        ours_us = statistics.median(per_frame_us(read, vehicle._on_frame) for _ in range(repeat))
    return {
        "frames": len(frames),
        "read_share": len(read) / len(frames),
        "rates": {name: statistics.median(r) for name, r in rates.items()},
        "cantools_us": cantools_us,
        "ours_us": ours_us,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        baseline_child(json.loads(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--profile", default="vw_golf_mk7", help="an example car (vw_golf_mk7)")
    parser.add_argument("--seconds", type=float, default=10.0, help="CPU sampling time per path")
    parser.add_argument(
        "--cycle-ms", type=float, default=50.0, help="cycle of DBC messages with none (50)"
    )
    parser.add_argument("--frames", type=int, default=30_000, help="frames per in-process run")
    parser.add_argument("--repeat", type=int, default=3, help="in-process runs; median")
    args = parser.parse_args()
    quiet_agent_logging()

    cpu = cpu_figures(args.profile, args.seconds, args.cycle_ms)
    print(
        f"{args.profile}: the whole DBC on the bus, {cpu['bus_fps']:.0f} frames/s from the "
        f"simulator, SLCAN on a pty, {args.seconds:g} s each"
    )
    print(f"  agent process (whole box, MQTT, telemetry): {cpu['ours']:.1%} of a core")
    for mode, label in (("all", "decode every frame"), ("read", "filter, decode the profile's")):
        got = cpu[mode]
        print(
            f"  python-can + cantools, {label}: {got['share']:.1%} of a core "
            f"({got['fps']:.0f} frames/s received, {got['decoded']:.0f} decoded/s)"
        )
    flow = throughput(args.profile, args.frames, args.repeat, args.cycle_ms)
    rates = flow["rates"]
    print(
        f"in one process, virtual bus, {flow['frames']} frames a run, {args.repeat} runs "
        f"({flow['read_share']:.0%} of them read by the profile):"
    )
    for name in ("raw", "raw_filtered", "ours"):
        print(f"  {name:13s} {rates[name]:9.0f} frames/s")
    per_frame = flow["ours_us"] / flow["cantools_us"]
    print(
        f"  per frame the profile reads, no bus: cantools decode_message "
        f"{flow['cantools_us']:.1f} us, VehicleBox._on_frame {flow['ours_us']:.1f} us "
        f"({per_frame:.2f}x)"
    )
    print(
        f"RESULT real_car cpu_ours={cpu['ours']:.3f} cpu_raw_all={cpu['all']['share']:.3f} "
        f"cpu_raw_read={cpu['read']['share']:.3f} "
        f"cpu_ratio={cpu['ours'] / cpu['all']['share']:.2f} "
        f"fps_ratio={rates['ours'] / rates['raw']:.2f} per_frame_ratio={per_frame:.2f}"
    )


if __name__ == "__main__":
    main()
