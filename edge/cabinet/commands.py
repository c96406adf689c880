"""The cabinet's command types and their args (contract section 3, cabinet commands)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, model_validator

from edge.commands.args import CommandArgs, CommandSpec, Reference


class ReserveArgs(CommandArgs):
    reservation_id: Reference
    purpose: Literal["rent", "return"]
    count: int = Field(ge=1)
    ttl_s: int = Field(gt=0)


class RentArgs(CommandArgs):
    order_id: Reference
    reservation_id: Reference | None = None
    count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _reservation_or_count(self) -> RentArgs:
        if (self.reservation_id is None) == (self.count is None):
            raise ValueError("needs exactly one of reservation_id or count")
        return self


class CancelArgs(CommandArgs):
    reservation_id: Reference


class SetSlotArgs(CommandArgs):
    slot: int = Field(ge=0)
    enabled: bool


class InstallerEjectArgs(CommandArgs):
    slot: int = Field(ge=1)


CABINET_COMMANDS: Mapping[str, CommandSpec] = {
    "reserve": CommandSpec(
        "cabinet",
        ReserveArgs,
        "Holds count slots: for rent the fullest charged banks at or above "
        "cabinet.min_charge_pct, for return empty slots; the reply's result names the "
        "slots. Released with a reservation_expired event at the end of ttl_s.",
        new_work=True,
    ),
    "rent": CommandSpec(
        "cabinet",
        RentArgs,
        "Needs exactly one of reservation_id or count. Ejects the reserved (or best) "
        "banks: a bank_out record per bank when the board reports it taken; a bank not "
        "taken within cabinet.take_timeout_s is locked back in, with an event.",
        new_work=True,
    ),
    "cancel": CommandSpec(
        "cabinet",
        CancelArgs,
        "Releases a reservation.",
    ),
    "set_slot": CommandSpec(
        "cabinet",
        SetSlotArgs,
        "Takes a slot out of service, or back.",
    ),
    "test_eject": CommandSpec(
        "cabinet",
        InstallerEjectArgs,
        "(installer grant) Ejects the bank of one occupied, unreserved slot, as a rent of that "
        "slot would: a test_eject record naming the grant first, then the eject; a bank_out "
        "with grant_id (and the grant's id as order_id) when it is taken, locked back in with "
        "an event when not. Replied like a rent of one slot.",
        installer=True,
    ),
}
