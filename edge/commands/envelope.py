"""The signed command envelope and the args of every command type (contract section 3).

All models are strict and forbid unknown fields: a field the box does not understand may
carry meaning it would then ignore, so it is `bad_schema`, as is a number sent as a string.
`COMMANDS` is the table of command types: which box kind serves each and its args model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from edge.config import BOX_KINDS, BoxKind, DeviceId
from edge.timefmt import parse_rfc3339

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_command_id(value: object) -> bool:
    """Whether `value` has the shape of an envelope `id`: a UUID, 8-4-4-4-12 hex digits."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _command_id(value: object) -> object:
    if isinstance(value, str) and not is_command_id(value):
        raise ValueError("must be a UUID (8-4-4-4-12 hex digits)")
    return value


def _timestamp(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string")
    return parse_rfc3339(value)


def _decimal_number(value: object) -> object:
    # A JSON number arrives as int or float. repr() of a float is the shortest decimal that
    # reads back as the same float, i.e. the digits the backend wrote: 42.7 -> Decimal("42.7").
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be finite")
    return Decimal(repr(value))


CommandId = Annotated[str, BeforeValidator(_command_id)]
Timestamp = Annotated[datetime, BeforeValidator(_timestamp)]
Reference = Annotated[str, Field(min_length=1, max_length=128)]  # an order, renter, reservation


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Envelope(_Strict):
    id: CommandId
    device_id: DeviceId
    type: str
    issued_at: Timestamp
    expires_at: Timestamp
    args: dict[str, Any]
    sig: str


class CommandArgs(_Strict):
    """The args of one command type."""


class Tariff(_Strict):
    # Bounds far beyond any real tariff keep every charge an exact, small integer.
    per_minute_cents: int = Field(ge=0, le=1_000_000)
    fuel_price_cents_per_litre: int = Field(ge=0, le=1_000_000)
    # A JSON number (a tank may hold 42.7 l), held as Decimal: it is a factor of money.
    tank_litres: Annotated[
        Decimal,
        BeforeValidator(_decimal_number),
        Field(gt=0, le=10_000, decimal_places=3),
        WithJsonSchema(
            {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 10_000,
                "description": "litres, at most 3 decimals",
            }
        ),
    ]
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class StartRentalArgs(CommandArgs):
    order_id: Reference
    renter: Reference
    tariff: Tariff


class UnlockArgs(CommandArgs):
    order_id: Reference


class LockArgs(CommandArgs):
    order_id: Reference


class EndRentalArgs(CommandArgs):
    order_id: Reference


class SetServiceArgs(CommandArgs):
    in_service: bool
    reason: str = Field(max_length=500)


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


class LowerArgs(CommandArgs):
    order_id: Reference


class RaiseArgs(CommandArgs):
    order_id: Reference


@dataclass(frozen=True)
class CommandSpec:
    kind: BoxKind
    args: type[CommandArgs]


COMMANDS: Mapping[str, CommandSpec] = {
    "start_rental": CommandSpec("vehicle", StartRentalArgs),
    "unlock": CommandSpec("vehicle", UnlockArgs),
    "lock": CommandSpec("vehicle", LockArgs),
    "end_rental": CommandSpec("vehicle", EndRentalArgs),
    "set_service": CommandSpec("vehicle", SetServiceArgs),
    "reserve": CommandSpec("cabinet", ReserveArgs),
    "rent": CommandSpec("cabinet", RentArgs),
    "cancel": CommandSpec("cabinet", CancelArgs),
    "set_slot": CommandSpec("cabinet", SetSlotArgs),
    "lower": CommandSpec("parking", LowerArgs),
    "raise": CommandSpec("parking", RaiseArgs),
}

COMMAND_TYPES: Mapping[BoxKind, frozenset[str]] = {
    kind: frozenset(name for name, spec in COMMANDS.items() if spec.kind == kind)
    for kind in BOX_KINDS
}
