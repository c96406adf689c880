"""What every message the box publishes is built from (contract section 1)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Timestamp = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
        json_schema_extra={"format": "date-time"},
        examples=["2026-11-23T18:14:27.123Z"],
    ),
]
"""RFC 3339 UTC with milliseconds, as edge.timefmt.rfc3339 writes it."""

Uuid = Annotated[
    str,
    Field(
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        json_schema_extra={"format": "uuid"},
    ),
]

Cents = int
"""Money: integer minor units, computed with decimal.Decimal and rounded half-up."""


class WireModel(BaseModel):
    """A payload the box publishes. Strict and closed: validated as the JSON on the wire, a
    field the model does not name or a value of another JSON type is drift, and fails."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
