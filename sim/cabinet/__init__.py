"""`edge-sim cabinet`: the slot boards of a sharing cabinet on a serial line (contract section 8).

Every board speaks the slot-board protocol (firmware_protocol/slotboard/PROTOCOL.md), run from
its codec in reverse by sim/slotboard_device. `edge-sim cabinet --help` lists the options, the
control ops, the faults and the stdout events.

    slot_board.py  one board: its slots, latches, chargers and LEDs, and its commands
    inventory.py   the banks a cabinet starts with
    ops.py         the table of control ops, faults and events
    options.py     the command line
    simulator.py   the boards on one line, and the control ops
"""

from __future__ import annotations

from .options import parse_options
from .simulator import CabinetSimulator

__all__ = ["CabinetSimulator", "from_args"]


def from_args(argv: list[str]) -> CabinetSimulator:
    return CabinetSimulator(parse_options(argv))
