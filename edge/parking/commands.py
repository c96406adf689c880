"""The parking box's command types and their args (contract section 3, parking commands)."""

from __future__ import annotations

from collections.abc import Mapping

from edge.commands.args import CommandArgs, CommandSpec, Reference


class LowerArgs(CommandArgs):
    order_id: Reference


class RaiseArgs(CommandArgs):
    order_id: Reference


PARKING_COMMANDS: Mapping[str, CommandSpec] = {
    "lower": CommandSpec(
        "parking",
        LowerArgs,
        "Lowers the ground lock for the order; writes parking_started.",
    ),
    "raise": CommandSpec(
        "parking",
        RaiseArgs,
        "Raises it once the space is clear; writes parking_ended. Refused while a car "
        "stands over it.",
    ),
}
