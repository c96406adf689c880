"""The parking box's command types and their args (contract section 3, parking commands)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from edge.commands.args import CommandArgs, CommandSpec, Reference


class LowerArgs(CommandArgs):
    order_id: Reference


class RaiseArgs(CommandArgs):
    order_id: Reference


class InstallerMoveArgs(CommandArgs):
    direction: Literal["raise", "lower"]


PARKING_COMMANDS: Mapping[str, CommandSpec] = {
    "lower": CommandSpec(
        "parking",
        LowerArgs,
        "Lowers the ground lock for the order; writes parking_started.",
        new_work=True,
    ),
    "raise": CommandSpec(
        "parking",
        RaiseArgs,
        "Raises it once the space is clear; writes parking_ended. Refused while a car "
        "stands over it.",
    ),
    "test_move": CommandSpec(
        "parking",
        InstallerMoveArgs,
        "(installer grant) Raises or lowers the ground lock with no order: refused while an "
        "order holds the space, and a raise while a car stands over it (or the sensor cannot "
        "tell). A test_move record naming the grant is written before the arm moves; the reply "
        "comes when the board reports the arm at its limit.",
        installer=True,
    ),
}
