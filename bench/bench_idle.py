"""What a box costs while nothing happens: idle CPU, wake-ups, start-up, memory (not a test).

    .venv/bin/python bench/bench_idle.py [--seconds 60] [--loaded-cycle-ms 200] [--skip-loaded]

Every figure from /proc (utime + stime of /proc/PID/stat, voluntary + involuntary context
switches of /proc/PID/task/*/status: a thread sleeping in epoll or select and woken counts one
voluntary switch), over `--seconds` once the process serves, with the simulator broadcasting:

1. vehicle, car parked (the reference car, 52 frames/s over SLCAN on a pty): the agent as a
   process (mosquitto, telemetry every second, as testbed/rig.py runs it); then on the same
   adapter, for as long: `pycan`, python-can's `slcan` bus, recv -> cantools decode_message;
   `bulk`, the same adapter read in bulk (select, os.read, split at CR, bytes.fromhex) ->
   decode_message.
2. vehicle at a loaded bus: `edge-sim vehicle --profile vw_golf_mk7 --full-dbc
   --full-dbc-cycle-ms C` (C = --loaded-cycle-ms; 200 gives about 570 frames/s); the same three.
3. cabinet, idle: the agent only.
4. start-up: spawn -> `agent.ready` and VmRSS at ready, per kind; raw baseline: `python -c
   pass` spawn -> exit, and its RSS with python-can + cantools imported.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def proc_sample(pid: int) -> tuple[float, int]:
    """(CPU seconds, context switches) of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():  # every thread (paho's, the executor's)
        try:
            status = (task / "status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        switches += sum(int(x.split()[1]) for x in status.splitlines() if "ctxt_switches:" in x)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, switches


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def watch(pid: int, seconds: float) -> dict[str, float]:
    cpu0, sw0 = proc_sample(pid)
    start = time.monotonic()
    time.sleep(seconds)
    cpu1, sw1 = proc_sample(pid)
    wall = time.monotonic() - start
    return {"cpu_pct": 100 * (cpu1 - cpu0) / wall, "wakeups_s": (sw1 - sw0) / wall}


# --- the raw readers, each in a child process ----------------------------------------------


def raw_child(connect: dict[str, Any], mode: str, seconds: float) -> None:
    import can

    from firmware_protocol.can import VehicleCodec

    database = VehicleCodec.load(connect.pop("profile", "reference"))._loaded.database
    bus = can.Bus(
        interface="slcan",
        channel=connect["channel"],
        bitrate=connect["bitrate"],
        **connect["options"],
    )
    frames = 0
    start = time.monotonic()

    def decode(can_id: int, data: bytes) -> None:
        with contextlib.suppress(KeyError, ValueError):
            database.decode_message(can_id, data)

    if mode == "pycan":
        while (left := start + seconds - time.monotonic()) > 0:
            message = bus.recv(left)
            if message is not None:
                frames += 1
                decode(message.arbitration_id, bytes(message.data))
    else:
        fd = bus.fileno()
        os.set_blocking(fd, False)
        partial = b""
        while (left := start + seconds - time.monotonic()) > 0:
            if not select.select([fd], [], [], left)[0]:
                continue
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            *lines, partial = (partial + chunk).split(b"\r")
            for line in lines:
                if line[:1] == b"t":
                    frames += 1
                    dlc = int(line[4:5])
                    decode(int(line[1:4], 16), bytes.fromhex(line[5 : 5 + 2 * dlc].decode()))
    print(json.dumps({"frames_s": frames / (time.monotonic() - start)}), flush=True)
    bus.shutdown()


def raw_share(connect: dict[str, Any], mode: str, seconds: float) -> dict[str, float]:
    argv = [sys.executable, __file__, "--child", json.dumps(connect), mode, str(seconds)]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)  # its imports and open done
    figures = watch(child.pid, seconds - 1.5)
    out, _ = child.communicate(timeout=seconds + 30)
    return {**figures, **json.loads(out.strip().splitlines()[-1])}


# --- the agents --------------------------------------------------------------------------


def rig(tmp: Path, kind: str, sim_args: tuple[str, ...] = (), profile: str | None = None) -> Any:
    from testbed.rig import BoxRig

    settings = {"vehicle": {"profile": profile}} if profile else {}
    return BoxRig(tmp, kind, device_id=f"bench-{kind}", sim_args=sim_args, box_settings=settings)  # type: ignore[arg-type]


def vehicle_figures(seconds: float, sim_args: tuple[str, ...], profile: str | None) -> Any:
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        box = rig(Path(tmp), "vehicle", sim_args, profile)
        try:
            box.start_agent()
            time.sleep(2.0)
            sent = box.sim.state()["counters"]["frames_sent"]
            start = time.monotonic()
            ours = watch(box.agent.proc.pid, seconds)
            ours["bus_frames_s"] = (box.sim.state()["counters"]["frames_sent"] - sent) / (
                time.monotonic() - start
            )
            box.agent.stop()
            connect = dict(box.sim.connect)
            connect["profile"] = profile or "reference"
            return {
                "ours": ours,
                "pycan": raw_share(connect, "pycan", seconds),
                "bulk": raw_share(connect, "bulk", seconds),
            }
        finally:
            box.close()


def cabinet_figures(seconds: float) -> Any:
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        box = rig(Path(tmp), "cabinet")
        try:
            box.start_agent()
            time.sleep(2.0)
            return watch(box.agent.proc.pid, seconds)
        finally:
            box.close()


def startup_figures(repeat: int) -> Any:
    figures: dict[str, list[tuple[float, float]]] = {"vehicle": [], "cabinet": []}
    for _ in range(repeat):
        for kind in figures:
            with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
                box = rig(Path(tmp), kind)
                try:
                    start = time.monotonic()
                    box.start_agent()
                    ready_ms = 1000 * (time.monotonic() - start)
                    figures[kind].append((ready_ms, rss_mib(box.agent.proc.pid)))
                finally:
                    box.close()
    bare, libs = [], []
    for _ in range(repeat):
        start = time.monotonic()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(1000 * (time.monotonic() - start))
        code = "import can, cantools, os; print(open('/proc/self/status').read())"
        start = time.monotonic()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
        libs.append(1000 * (time.monotonic() - start))
        libs_rss = next(int(x.split()[1]) / 1024 for x in out.splitlines() if "VmRSS" in x)
    med = sorted
    return {
        **{
            kind: {
                "ready_ms": med(r for r, _ in runs)[len(runs) // 2],
                "rss_mib": med(m for _, m in runs)[len(runs) // 2],
            }
            for kind, runs in figures.items()
        },
        "python_pass_ms": med(bare)[len(bare) // 2],
        "python_can_cantools_import_ms": med(libs)[len(libs) // 2],
        "python_can_cantools_rss_mib": libs_rss,
    }


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        raw_child(json.loads(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--loaded-cycle-ms", type=float, default=200.0)
    parser.add_argument("--skip-loaded", action="store_true")
    parser.add_argument("--startup-repeat", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, Any] = {"startup": startup_figures(args.startup_repeat)}
    print("startup", json.dumps(results["startup"]), flush=True)
    results["parked"] = vehicle_figures(args.seconds, (), None)
    print("parked", json.dumps(results["parked"]), flush=True)
    results["cabinet"] = cabinet_figures(args.seconds)
    print("cabinet", json.dumps(results["cabinet"]), flush=True)
    if not args.skip_loaded:
        loaded_args = ("--profile", "vw_golf_mk7", "--full-dbc")
        loaded_args += ("--full-dbc-cycle-ms", f"{args.loaded_cycle_ms:g}")
        results["loaded"] = vehicle_figures(args.seconds, loaded_args, "vw_golf_mk7")
        print("loaded", json.dumps(results["loaded"]), flush=True)
    parked = results["parked"]
    line = (
        f"RESULT idle parked_cpu={parked['ours']['cpu_pct']:.2f} "
        f"parked_bulk={parked['bulk']['cpu_pct']:.2f} "
        f"parked_ratio={parked['ours']['cpu_pct'] / max(parked['bulk']['cpu_pct'], 1e-9):.2f} "
        f"parked_wakeups={parked['ours']['wakeups_s']:.1f} "
        f"cabinet_cpu={results['cabinet']['cpu_pct']:.2f}"
    )
    if "loaded" in results:
        loaded = results["loaded"]
        ratio = loaded["ours"]["cpu_pct"] / max(loaded["bulk"]["cpu_pct"], 1e-9)
        line += f" loaded_cpu={loaded['ours']['cpu_pct']:.2f} loaded_ratio={ratio:.2f}"
    print(line)


if __name__ == "__main__":
    main()
