"""What every command type's args are built from, and the table entry that names them.

Each kind of box defines its own command types' args in its folder (edge/vehicle/commands.py,
edge/cabinet/commands.py, edge/parking/commands.py); edge/commands/table.py gathers them. All
models are strict and forbid unknown fields: a field the box does not understand may carry
meaning it would then ignore, so it is `bad_schema`, as is a number sent as a string.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.identity import BoxKind

EVERY_KIND: Final = "every"
"""The `kind` of a command every kind of box serves (contract 1.1: `configure`)."""

Reference = Annotated[str, Field(min_length=1, max_length=128)]  # an order, renter, reservation


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CommandArgs(StrictModel):
    """The args of one command type."""


def decimal_number(value: object) -> object:
    """A JSON number as the Decimal of the digits the sender wrote (for money factors)."""
    # A JSON number arrives as int or float. repr() of a float is the shortest decimal that
    # reads back as the same float, i.e. the digits the backend wrote: 42.7 -> Decimal("42.7").
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be finite")
    return Decimal(repr(value))


@dataclass(frozen=True)
class CommandSpec:
    kind: BoxKind | Literal["every"]  # the kind of box that serves it, or EVERY_KIND
    args: type[CommandArgs]
    effect: str  # what it does (contract section 3), for the AsyncAPI document
    new_work: bool = False  # starts a rental, reservation or session: `busy` while storage is short
    installer: bool = False  # also accepted as an installer grant (edge/diagnostics/grants.py)

    def serves(self, kind: BoxKind) -> bool:
        return self.kind in (kind, EVERY_KIND)
