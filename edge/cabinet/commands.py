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


CABINET_COMMANDS: Mapping[str, CommandSpec] = {
    "reserve": CommandSpec(
        "cabinet",
        ReserveArgs,
        "Holds count slots: for rent the fullest charged banks at or above "
        "cabinet.min_charge_pct, for return empty slots; the reply's result names the "
        "slots. Released with a reservation_expired event at the end of ttl_s.",
    ),
    "rent": CommandSpec(
        "cabinet",
        RentArgs,
        "Needs exactly one of reservation_id or count. Ejects the reserved (or best) "
        "banks: a bank_out record per bank when the board reports it taken; a bank not "
        "taken within cabinet.take_timeout_s is locked back in, with an event.",
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
}
