"""`edge-sim vehicle` command line: how the car is reached, and what it starts as."""

from __future__ import annotations

import argparse
import math
import random
import textwrap
from dataclasses import dataclass

from firmware_protocol.can import CanEncodeError, ProfileError, VehicleCodec
from firmware_protocol.obd import ObdError, encode_stored_dtcs
from sim.slcan import BITRATES

from .car import Car
from .frames import CarFrames
from .ops import help_text

DEFAULT_FUEL_PCT = 62.0
DEFAULT_ODOMETER_KM = 12345.6
DEFAULT_BITRATE = 500_000
# A body controller's lock motor and relay take a few hundred milliseconds.
DEFAULT_ACTUATOR_DELAY_MS = 200.0
MIN_CYCLE_MS = 1.0


@dataclass(frozen=True)
class Options:
    codec: VehicleCodec
    can_interface: str | None
    can_channel: str | None
    bitrate: int
    fuel_pct: float
    odometer_km: float
    seed: int
    dtcs: tuple[str, ...]
    actuator_delay_s: float
    full_dbc: bool = False
    unknown_cycle_s: float | None = None


def parse_options(argv: list[str]) -> Options:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.can_interface is None and args.can_channel is not None:
        parser.error("--can-channel needs --can-interface")
    if args.can_interface is not None and not args.can_channel:
        parser.error(f"--can-interface {args.can_interface} needs --can-channel")
    if args.can_interface is None and args.bitrate not in BITRATES.values():
        parser.error(f"--bitrate of an SLCAN adapter is one of {sorted(BITRATES.values())}")
    if not 0 <= args.fuel_pct <= 100:
        parser.error("--fuel-pct is 0 to 100")
    if not 0 <= args.odometer_km < math.inf:
        parser.error("--odometer-km is a number >= 0")
    if not 0 <= args.actuator_delay_ms <= 60_000:
        parser.error("--actuator-delay-ms is 0 to 60000")
    if args.full_dbc_cycle_ms is not None and not MIN_CYCLE_MS <= args.full_dbc_cycle_ms <= 60_000:
        parser.error(f"--full-dbc-cycle-ms is {MIN_CYCLE_MS:g} to 60000")
    if args.full_dbc_cycle_ms is not None and not args.full_dbc:
        parser.error("--full-dbc-cycle-ms needs --full-dbc")
    try:
        codec = VehicleCodec.load(args.profile)
    except ProfileError as exc:
        parser.error(f"--profile {args.profile}: {exc}")
    unknown_cycle_s = None if args.full_dbc_cycle_ms is None else args.full_dbc_cycle_ms / 1000
    dtcs = tuple(code.strip() for code in args.dtcs.split(",") if code.strip())
    try:
        encode_stored_dtcs(dtcs)
    except ObdError as exc:
        parser.error(f"--dtcs: {exc}")
    try:
        frames = CarFrames(codec, full_dbc=args.full_dbc, unknown_cycle_s=unknown_cycle_s)
        frames.check(Car(args.fuel_pct, args.odometer_km), random.Random(args.seed))
    except CanEncodeError as exc:
        parser.error(f"the car cannot start so: {exc}")
    return Options(
        codec=codec,
        can_interface=args.can_interface,
        can_channel=args.can_channel,
        bitrate=args.bitrate,
        fuel_pct=args.fuel_pct,
        odometer_km=args.odometer_km,
        seed=args.seed,
        dtcs=dtcs,
        actuator_delay_s=args.actuator_delay_ms / 1000,
        full_dbc=args.full_dbc,
        unknown_cycle_s=unknown_cycle_s,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-sim vehicle",
        description=textwrap.fill(
            "The car's body controller (central lock, one-key start enable) and instrument "
            "cluster on a CAN bus, answering OBD-II (PIDs 0x0C 0x0D 0x2F 0xA6, stored DTCs) on "
            "0x7E8. With no options it stands behind an SLCAN USB-CAN adapter emulated on a pty. "
            'Its first stdout line is {"event": "sim.ready", "connect": {...}}, the agent\'s '
            "[vehicle.can] keys. It exits 0 on EOF of stdin or SIGTERM.",
            width=96,
        ),
        epilog=help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--can-interface",
        metavar="NAME",
        help="a python-can interface (socketcan, virtual, ...) instead of the emulated SLCAN",
    )
    parser.add_argument("--can-channel", metavar="CHANNEL", help="its channel, e.g. vcan0")
    parser.add_argument("--bitrate", type=int, default=DEFAULT_BITRATE, help="bit/s (%(default)s)")
    parser.add_argument(
        "--profile",
        default="reference",
        metavar="NAME_OR_PATH",
        help="signal profile: a builtin name (reference, vw_golf_mk7, hyundai_kia, "
        "toyota_prius_2010) or a profile file; the car it describes is played (%(default)s)",
    )
    parser.add_argument(
        "--full-dbc",
        action="store_true",
        help="play every message of the profile's DBC at its cycle time, not only those the "
        "profile reads (the others carry their start values): a real car's bus load",
    )
    parser.add_argument(
        "--full-dbc-cycle-ms",
        type=float,
        metavar="MS",
        help="with --full-dbc, the cycle of a message whose cycle neither the DBC nor the "
        "profile gives (default: the profile's default_cycle_s)",
    )
    parser.add_argument(
        "--fuel-pct", type=float, default=DEFAULT_FUEL_PCT, help="initial fuel (%(default)s)"
    )
    parser.add_argument(
        "--odometer-km",
        type=float,
        default=DEFAULT_ODOMETER_KM,
        help="initial odometer (%(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the engine's jitter and the bus noise"
    )
    parser.add_argument(
        "--dtcs",
        default="",
        metavar="CODES",
        help="stored trouble codes, comma-separated, e.g. P0301,C0035 (none)",
    )
    parser.add_argument(
        "--actuator-delay-ms",
        type=float,
        default=DEFAULT_ACTUATOR_DELAY_MS,
        help="time the lock and the start enable take to move (%(default)s)",
    )
    return parser
