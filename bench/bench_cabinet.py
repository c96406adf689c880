"""The cabinet's serial figures: a 48-slot inventory read against the wire, and rent -> eject
latency end to end (not a test).

    .venv/bin/python bench/bench_cabinet.py [--rounds 20] [--rents 60] [--quick]

1. Inventory: `edge-sim cabinet` (3 boards x 16 slots on a pty at 115200) as a process, and
   the agent's real `SlotBoardLink` in this process. After GET_INFO to each board, a round is
   GET_SLOTS to boards 1, 2, 3 in turn (48 slots), timed from the first request to the last
   answer. The wire time is each board's request and response frames at 10 bits a byte, summed;
   the floor adds, per exchange, the board's minimum turnaround and the box's inter-frame gap
   (firmware_protocol/slotboard/timing.py). The simulator paces its pty to the baud rate in
   both directions (sim/serial/pacing.py), so the wire time is in the measurement; the rest is
   the two processes' work, the pacer's 1 ms tick and the link's inter-frame gap.
2. Rent -> eject: a whole box (testbed/rig.py: mosquitto, `edge-sim cabinet`, the agent as a
   process, the signing cloud). Each sample is one signed `rent` (count 1); the figure is the
   agent's own `command.accepted` log line to its `cabinet.eject_sent` line for that command
   (the eject handed to the link), from their `ts`. Also shown: the cloud's publish to the
   simulator's `eject` stdout line (the board carried it out), both stamped in this process.
   After each rent the bank is taken once the latch is open and put back, so the cabinet never
   runs dry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent)]

from edge.config import SerialConfig  # noqa: E402
from edge.serial import SlotBoardLink  # noqa: E402
from firmware_protocol.slotboard import (  # noqa: E402
    GetSlotsRequest,
    GetSlotsResponse,
    build_request,
    build_response,
    timing,
)
from testbed.processes import JsonLine, SimProcess  # noqa: E402
from testbed.rig import BoxRig  # noqa: E402

BOARDS = (1, 2, 3)
BAUDRATE = 115200
BITS_PER_BYTE = 10  # start, 8 data, stop
DEVICE = "cab-bench"
READY_TIMEOUT_S = 30.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


# --- 1. inventory poll vs the wire ---------------------------------------------------


async def time_inventory(connect: dict[str, Any], rounds: int) -> tuple[list[float], float]:
    """Seconds per full read of every board's slots, and the wire time of one such read."""
    link = SlotBoardLink(
        SerialConfig(port=connect["port"], baudrate=BAUDRATE), logger=_NullLogger()
    )
    opened = asyncio.Event()
    runner = asyncio.create_task(link.run(opened))
    try:
        await asyncio.wait_for(opened.wait(), 10)
        for address in BOARDS:
            await link.hello(address)
        wire_bytes = 0
        for address in BOARDS:
            response = await link.request(address, GetSlotsRequest())
            assert isinstance(response, GetSlotsResponse)
            request_frame = build_request(address, 0, GetSlotsRequest())
            wire_bytes += request_frame.size + build_response(request_frame, response).size
        samples = []
        for _ in range(rounds):
            started = time.perf_counter()
            for address in BOARDS:
                await link.request(address, GetSlotsRequest())
            samples.append(time.perf_counter() - started)
        return samples, wire_bytes * BITS_PER_BYTE / BAUDRATE
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


class _NullLogger:
    """The link logs board hellos; the bench prints its own lines."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def inventory_figures(rounds: int) -> float:
    with SimProcess("cabinet") as sim:
        samples, wire_s = asyncio.run(time_inventory(sim.connect, rounds))
    exchanges = len(BOARDS)
    floor_s = wire_s + exchanges * (timing.TURNAROUND_MIN_S + timing.INTER_FRAME_GAP_S)
    samples.sort()
    p50 = statistics.median(samples)
    print(
        f"inventory: {len(BOARDS)} boards x 16 slots, GET_SLOTS each, {rounds} rounds, "
        f"115200 baud (pty paced to the baud rate)"
    )
    print(f"  measured per 48-slot read: p50 {ms(p50)} ms, max {ms(samples[-1])} ms")
    print(f"  pure wire time (request + response frames, 10 bits/byte): {ms(wire_s)} ms")
    print(
        f"  wire + turnaround floor (+{exchanges} x (200 us turnaround + 1 ms inter-frame "
        f"gap)): {ms(floor_s)} ms"
    )
    print(f"  measured/wire p50 {p50 / wire_s:.2f}, measured/floor p50 {p50 / floor_s:.2f}")
    return p50 / wire_s


# --- 2. rent -> eject ------------------------------------------------------------------


def parse_ts(line: JsonLine) -> datetime:
    return datetime.fromisoformat(str(line["ts"]).replace("Z", "+00:00"))


def agent_lines(rig: BoxRig, event: str) -> list[JsonLine]:
    assert rig.agent is not None
    return rig.agent.logged(event)


def rent_figures(rents: int, workdir: Path) -> tuple[list[float], list[float]]:
    sim_seen: dict[int, float] = {}  # slot -> when its latest eject line was read

    def stamp_eject(line: JsonLine) -> None:
        if line.get("event") == "eject":
            sim_seen[int(line["slot"])] = time.perf_counter()

    to_eject: list[float] = []
    to_board: list[float] = []
    with BoxRig(
        workdir,
        "cabinet",
        device_id=DEVICE,
        box_settings={
            "cabinet": {"boards": list(BOARDS), "take_timeout_s": 30},
            "telemetry": {"interval_s": 0.5},
        },
        echo_sim=stamp_eject,
    ) as rig:
        rig.start_agent()
        rig.telemetry(
            lambda t: any(slot.get("bank_id") for slot in t.get("slots", [])), READY_TIMEOUT_S
        )
        for i in range(rents):
            envelope = rig.backend.command(DEVICE, "rent", {"order_id": f"o{i}", "count": 1})
            published = time.perf_counter()
            rig.send(envelope)
            reply = rig.reply_to(envelope["id"])
            assert reply["status"] == "ok", reply
            [slot] = reply["result"]["ejected"]
            pushed = rig.sim.wait_event("eject", slot=slot)
            rig.sim.wait_event("unlocked", slot=slot)
            to_board.append(sim_seen[slot] - published)
            accepted = next(
                line
                for line in agent_lines(rig, "command.accepted")
                if line["command_id"] == envelope["id"]
            )
            sent = next(
                line
                for line in agent_lines(rig, "cabinet.eject_sent")
                if line["command_id"] == envelope["id"]
            )
            to_eject.append((parse_ts(sent) - parse_ts(accepted)).total_seconds())
            rig.sim.send(op="take", slot=slot)
            rig.sim.wait_event("taken", slot=slot)
            rig.sim.send(
                op="insert", slot=slot, bank_id=pushed["bank_id"], charge_pct=pushed["charge_pct"]
            )
            rig.sim.wait_event("inserted", slot=slot)
            rig.wait_record("bank_in", slot=slot, bank_id=pushed["bank_id"])
    return sorted(to_eject), sorted(to_board)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="48-slot reads timed")
    parser.add_argument("--rents", type=int, default=60, help="rents timed")
    parser.add_argument("--quick", action="store_true", help="tiny workload (the smoke test)")
    args = parser.parse_args()
    rounds, rents = (3, 3) if args.quick else (args.rounds, args.rents)

    ratio = inventory_figures(rounds)
    with tempfile.TemporaryDirectory(prefix="bench-cabinet-") as workdir:
        to_eject, to_board = rent_figures(rents, Path(workdir))
    print(f"rent -> eject: {rents} signed rents (count 1) through mosquitto to the agent process")
    print(
        f"  command.accepted -> cabinet.eject_sent (agent log ts): p50 "
        f"{ms(percentile(to_eject, 0.5))} ms, p99 {ms(percentile(to_eject, 0.99))} ms, "
        f"max {ms(to_eject[-1])} ms"
    )
    print(
        f"  cloud publish -> simulator's eject line: p50 {ms(percentile(to_board, 0.5))} ms, "
        f"p99 {ms(percentile(to_board, 0.99))} ms, max {ms(to_board[-1])} ms"
    )
    print(
        f"RESULT cabinet poll_ratio={ratio:.2f} eject_p50_ms={ms(percentile(to_eject, 0.5))} "
        f"eject_p99_ms={ms(percentile(to_eject, 0.99))} eject_max_ms={ms(to_eject[-1])}"
    )


if __name__ == "__main__":
    main()
