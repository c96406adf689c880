"""`edge-sim parking` command line: how the line is reached and how the lock starts."""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass

from firmware_protocol.slotboard import MAX_ADDRESS, Position, timing
from sim.slotboard_device import LineOptions, help_text

from .ops import EVENTS, FAULTS, OPS

# A ground lock's arm takes a couple of seconds end to end.
DEFAULT_MOVE_MS = 2000.0
MAX_MOVE_MS = 60_000.0
POSITIONS = {"raised": Position.RAISED, "lowered": Position.LOWERED}


@dataclass(frozen=True)
class Options:
    line: LineOptions
    address: int
    move_s: float
    position: Position
    car_present: bool


def parse_options(argv: list[str]) -> Options:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.address <= MAX_ADDRESS:
        parser.error(f"--address is 1 to {MAX_ADDRESS}")
    if args.baudrate <= 0:
        parser.error("--baudrate is a positive number of bit/s")
    if not 0 < args.move_ms <= MAX_MOVE_MS:
        parser.error(f"--move-ms is above 0 and at most {MAX_MOVE_MS:g}")
    if args.car and args.position == "raised":
        parser.error("--car needs --position lowered: no car gets over a raised arm")
    return Options(
        line=LineOptions(port=args.port, baudrate=args.baudrate, seed=args.seed),
        address=args.address,
        move_s=args.move_ms / 1000,
        position=POSITIONS[args.position],
        car_present=args.car,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-sim parking",
        description=textwrap.fill(
            "A parking ground lock's controller on a serial line, speaking the slot-board "
            "protocol (firmware_protocol/slotboard/PROTOCOL.md). With no --port it stands behind "
            "a pty that the agent opens like /dev/ttyUSB0. Its first stdout line is "
            '{"event": "sim.ready", "connect": {"port", "baudrate"}}, the agent\'s '
            "[parking.serial] keys. It exits 0 on EOF of stdin or SIGTERM.",
            width=96,
        ),
        epilog=help_text(OPS, FAULTS, EVENTS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--address", type=int, default=1, help="the board's address (%(default)s)")
    parser.add_argument(
        "--baudrate", type=int, default=timing.BAUDRATE, help="bit/s, 8N1 (%(default)s)"
    )
    parser.add_argument(
        "--port", metavar="PATH", help="a real serial port (e.g. /dev/ttyUSB1) instead of a pty"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the line noise")
    parser.add_argument(
        "--move-ms",
        type=float,
        default=DEFAULT_MOVE_MS,
        help="time the arm takes from one end to the other (%(default)s)",
    )
    parser.add_argument(
        "--position",
        choices=sorted(POSITIONS),
        default="raised",
        help="where the arm starts (%(default)s)",
    )
    parser.add_argument(
        "--car", action="store_true", help="a car stands over the lock at start (needs lowered)"
    )
    return parser
