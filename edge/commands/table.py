"""The table of command types: which box kind serves each (or every kind) and its args model."""

from __future__ import annotations

from collections.abc import Mapping

from edge.cabinet.commands import CABINET_COMMANDS
from edge.commands.args import CommandSpec
from edge.configure.commands import COMMANDS_OF_EVERY_KIND
from edge.identity import BOX_KINDS, BoxKind
from edge.parking.commands import PARKING_COMMANDS
from edge.vehicle.commands import VEHICLE_COMMANDS

COMMANDS: Mapping[str, CommandSpec] = {
    **COMMANDS_OF_EVERY_KIND,
    **VEHICLE_COMMANDS,
    **CABINET_COMMANDS,
    **PARKING_COMMANDS,
}

COMMAND_TYPES: Mapping[BoxKind, frozenset[str]] = {
    kind: frozenset(name for name, spec in COMMANDS.items() if spec.serves(kind))
    for kind in BOX_KINDS
}

INSTALLER_TYPES: Mapping[BoxKind, frozenset[str]] = {
    kind: frozenset(name for name in COMMAND_TYPES[kind] if COMMANDS[name].installer)
    for kind in BOX_KINDS
}
"""The types an installer grant may carry, per kind: small tests of the hardware."""
