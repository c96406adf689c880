"""The parking controller's durable state (the store's JSON under "parking", version 1) and what
`edge-agent status` shows of it.

The JSON is exactly what the dict snapshots wrote before these models:
`{"version": 1, "order": null | {"order_id", "phase", "command_id", "started_mono",
"started_at"}, "timer_seq": n}`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from edge.controller import Snapshot, SnapshotPart
from edge.wire.fields import WireModel

SNAPSHOT_VERSION = 1


class Phase(StrEnum):
    LOWERING = "lowering"
    PARKED = "parked"
    RAISING = "raising"


class ParkingOrder(SnapshotPart):
    """The order holding the space; the controller changes it in place."""

    order_id: str
    phase: Phase
    command_id: str | None  # the lower or raise under way
    started_mono: float | None = None
    started_at: str | None = None
    # started_at was taken on a synchronised clock; absent (None) in snapshots from before
    started_synced: bool | None = Field(default=None, exclude_if=lambda value: value is None)


class InstallerMovePart(SnapshotPart):
    """An installer's test move under way."""

    command_id: str
    direction: Literal["raise", "lower"]


class ParkingSnapshot(Snapshot):
    version: int = SNAPSHOT_VERSION
    order: ParkingOrder | None
    timer_seq: int
    test: InstallerMovePart | None = Field(default=None, exclude_if=lambda test: test is None)


class DescribedOrder(WireModel):
    order_id: str
    phase: Phase
    started_at: str | None


class ParkingDescription(WireModel):
    """For `edge-agent status`: the parking order, as last made durable."""

    order: DescribedOrder | None

    def status_rows(self) -> list[tuple[str, str]]:
        order = self.order
        if order is None:
            return [("parking", "no order")]
        return [("parking", f"order {order.order_id} {order.phase} started {order.started_at}")]
