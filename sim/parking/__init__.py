"""`edge-sim parking`: a parking ground lock's controller on a serial line (contract section 8).

It speaks the slot-board protocol (firmware_protocol/slotboard/PROTOCOL.md), run from its codec
in reverse by sim/slotboard_device. `edge-sim parking --help` lists the options, the control
ops, the faults and the stdout events.

    ground_lock.py  the arm, its motor and limit switches, the occupancy sensor, its commands
    ops.py          the table of control ops, faults and events
    options.py      the command line
    simulator.py    the lock on its line, and the control ops
"""

from __future__ import annotations

from .options import parse_options
from .simulator import ParkingSimulator

__all__ = ["ParkingSimulator", "from_args"]


def from_args(argv: list[str]) -> ParkingSimulator:
    return ParkingSimulator(parse_options(argv))
