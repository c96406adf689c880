"""The parking box's metered records (contract section 4): the fields besides the common ones,
which the store adds as it writes them."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from edge.wire.fields import RecordBody, Timestamp


class ParkingStarted(RecordBody):
    """The ground lock is down for the order (lower confirmed by the board)."""

    record_type: ClassVar[str] = "parking_started"

    order_id: str = Field(description="The order of the parking.")


class ParkingEnded(RecordBody):
    """The ground lock is up again (raise confirmed by the board): the parking ended."""

    record_type: ClassVar[str] = "parking_ended"

    order_id: str = Field(description="The order of the parking.")
    started_at: Timestamp = Field(description="When the parking started.")
    ended_at: Timestamp = Field(description="When the parking ended.")
    duration_s: int = Field(ge=0, description="Whole seconds on the monotonic clock.")


class InstallerMoved(RecordBody):
    """(beyond the contract) An installer grant's test raise or lower was accepted; written
    before the arm is asked to move."""

    record_type: ClassVar[str] = "test_move"

    grant_id: str = Field(description="The id of the installer grant (its command envelope).")
    direction: Literal["raise", "lower"] = Field(description="What the grant asked for.")


RECORDS: tuple[type[RecordBody], ...] = (ParkingStarted, ParkingEnded, InstallerMoved)
