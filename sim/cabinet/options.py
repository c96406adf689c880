"""`edge-sim cabinet` command line: how the line is reached and what the cabinet holds."""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass

from firmware_protocol.slotboard import MAX_ADDRESS, MAX_SLOTS, timing
from sim.slotboard_device import LineOptions, help_text

from .ops import EVENTS, FAULTS, NOTES, OPS

DEFAULT_BOARDS = 3
# A solenoid latch releases in some tens of milliseconds.
DEFAULT_LATCH_MS = 50.0
DEFAULT_CHARGE_STEP_S = 5.0


@dataclass(frozen=True)
class Options:
    line: LineOptions
    boards: int
    slots: int
    latch_s: float
    charge_step_s: float  # 0: charges stay as they are


def parse_options(argv: list[str]) -> Options:
    parser = _parser()
    args = parser.parse_args(argv)
    if not 1 <= args.boards <= MAX_ADDRESS:
        parser.error(f"--boards is 1 to {MAX_ADDRESS}")
    if not 1 <= args.slots <= MAX_SLOTS:
        parser.error(f"--slots is 1 to {MAX_SLOTS}")
    if args.baudrate <= 0:
        parser.error("--baudrate is a positive number of bit/s")
    if not 0 <= args.latch_ms <= 400:
        parser.error("--latch-ms is 0 to 400 (a latch slower than 500 ms is stuck)")
    if not 0 <= args.charge_step_s <= 86400:
        parser.error("--charge-step-s is 0 to 86400")
    return Options(
        line=LineOptions(port=args.port, baudrate=args.baudrate, seed=args.seed),
        boards=args.boards,
        slots=args.slots,
        latch_s=args.latch_ms / 1000,
        charge_step_s=args.charge_step_s,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-sim cabinet",
        description=textwrap.fill(
            "The slot boards of a sharing cabinet on one serial line, speaking the slot-board "
            "protocol (firmware_protocol/slotboard/PROTOCOL.md) at addresses 1..--boards. With "
            "no --port they stand behind a pty that the agent opens like /dev/ttyUSB0. Its first "
            'stdout line is {"event": "sim.ready", "connect": {"port", "baudrate"}}, the '
            "agent's [cabinet.serial] keys. It exits 0 on EOF of stdin or SIGTERM.",
            width=96,
        ),
        epilog=help_text(OPS, FAULTS, EVENTS, NOTES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--boards",
        type=int,
        default=DEFAULT_BOARDS,
        help="slot boards, at addresses 1..N (%(default)s)",
    )
    parser.add_argument(
        "--slots", type=int, default=MAX_SLOTS, help="slots per board, 1..16 (%(default)s)"
    )
    parser.add_argument(
        "--baudrate", type=int, default=timing.BAUDRATE, help="bit/s, 8N1 (%(default)s)"
    )
    parser.add_argument(
        "--port", metavar="PATH", help="a real serial port (e.g. /dev/ttyUSB1) instead of a pty"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the starting banks and of the line noise"
    )
    parser.add_argument(
        "--latch-ms",
        type=float,
        default=DEFAULT_LATCH_MS,
        help="time a latch takes to open or close (%(default)s); 0: EJECT's response already "
        "reads unlocked",
    )
    parser.add_argument(
        "--charge-step-s",
        type=float,
        default=DEFAULT_CHARGE_STEP_S,
        help="seconds per +1 %% of a charging bank (%(default)s); 0: charges never change",
    )
    return parser
