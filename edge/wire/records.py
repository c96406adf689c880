"""The metered records on `records` (contract section 4), exactly as the box writes them.

The store adds the common fields (edge/store/store.py `Transaction.add_record`); the rest, a
`RecordBody`, come from each kind's controller (edge/<kind>/records.py). Fields the contract
does not list but the box writes are marked "(beyond the contract)" in those models: a record
with a field missing or one more than its model names fails validation.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import Field, create_model

from edge.identity import DeviceId
from edge.wire.fields import RecordBody, Timestamp, Uuid, WireModel


class Record(WireModel):
    """The fields every record carries."""

    record_id: Uuid = Field(
        description="Fixed when the record is written, the same on every resend: the "
        "backend deduplicates by it."
    )
    seq: int = Field(ge=1, description="Per box, strictly increasing, no gaps.")
    device_id: DeviceId = Field(description="The box: 1 to 64 of A-Z a-z 0-9 _ -.")
    type: str = Field(description="The record type.")
    ts: Timestamp = Field(description="When the record was written (RFC 3339 UTC, ms).")
    clock_synced: bool = Field(
        description="False while the box has not confirmed a synchronised wall clock."
    )


def record_model(body: type[RecordBody]) -> type[RecordBody]:
    """The record as published: the common fields (`type` fixed to the body's `record_type`)
    and the body's own, closed to any other."""
    fixed_type: Any = cast(Any, Literal)[body.record_type]  # a Literal made at run time
    common = Record.model_fields
    return create_model(
        body.__name__,
        __base__=body,
        __doc__=body.__doc__,
        record_id=(Uuid, common["record_id"]),
        seq=(int, common["seq"]),
        device_id=(DeviceId, common["device_id"]),
        type=(fixed_type, Field(description="The record type.")),
        ts=(Timestamp, common["ts"]),
        clock_synced=(bool, common["clock_synced"]),
    )
