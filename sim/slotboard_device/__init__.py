"""What the cabinet and parking simulators share: slot boards on one serial line, run from the
slot-board codec in reverse (firmware_protocol/slotboard/PROTOCOL.md).

    timers.py     call-laters that are all cancelled when the simulator stops
    board.py      one board's protocol half: GET_INFO, the event queue, the remembered request,
                  NAKs; a board kind adds its own commands
    line.py       the boards on a serial line: frames in, the request routed by address,
                  the response out after the turnaround
    ops.py        the op and fault tables and the `--help` text they make
    simulator.py  a `Simulator` over a line of boards: control ops, the line's faults, state
"""

from sim.op_table import Spec, help_text

from .board import Board, Refused
from .line import BoardLine
from .simulator import BoardSimulator, LineOptions, number_in
from .timers import Timers

__all__ = [
    "Board",
    "BoardLine",
    "BoardSimulator",
    "LineOptions",
    "Refused",
    "Spec",
    "Timers",
    "help_text",
    "number_in",
]
