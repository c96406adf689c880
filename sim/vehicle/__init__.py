"""`edge-sim vehicle`: the simulated car on a CAN bus (contract section 8).

The car's body controller (central lock, doors, one-key start enable), engine ECU and instrument
cluster: it broadcasts every cyclic message of the signal profile, carries out the box's lock
and start-enable commands after an actuator delay, and answers OBD-II. All of it is the
profile's codec and the OBD-II codec run in reverse. `edge-sim vehicle --help` lists the options,
the control ops and the faults.

    car.py        the car's state and its own rules; a drive
    frames.py     its status frames through the codec
    obd.py        the OBD-II server (ISO 15765-4)
    noise.py      junk frames for the bus_noise fault
    ops.py        the table of control ops and faults
    options.py    the command line
    simulator.py  all of it on one loop, behind the CAN link of sim/slcan.py
"""

from __future__ import annotations

from .options import parse_options
from .simulator import VehicleSimulator

__all__ = ["VehicleSimulator", "from_args"]


def from_args(argv: list[str]) -> VehicleSimulator:
    return VehicleSimulator(parse_options(argv))
