"""What every message the box publishes is built from (contract section 1)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

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

JsonObject = dict[str, JsonValue]
"""A JSON object as it crosses the one JSON boundary (the store, the MQTT payloads)."""


class WireModel(BaseModel):
    """A payload the box publishes. Strict and closed: validated as the JSON on the wire, a
    field the model does not name or a value of another JSON type is drift, and fails."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class RecordBody(WireModel):
    """A metered record's own fields (contract section 4). The store adds the common ones
    (`record_id`, `seq`, `device_id`, `type`, `ts`, `clock_synced`) as it writes the record."""

    record_type: ClassVar[str]


class EventBody(WireModel):
    """An event's own fields; published on `events` as `{"ts", "type", **fields}`."""

    event_type: ClassVar[str]
    fault: ClassVar[bool]
    """Hardware or an operation went wrong (logged `box.fault`), as opposed to a state change
    (`box.event`). Each kind marks its own events."""

    def is_fault(self) -> bool:
        return self.fault


class ReplyResult(WireModel):
    """The `result` of a reply (a record can be one too: the reply then carries it as written)."""
