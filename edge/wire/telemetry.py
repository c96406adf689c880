"""The snapshots on `telemetry` (contract section 5): what every kind's snapshot carries.

Each kind's own model is in its folder (edge/<kind>/telemetry.py); its box builds it in
`telemetry(ts)`. null stands for what the hardware has not shown (a stale or unavailable
signal, a sensor in fault).
"""

from __future__ import annotations

from pydantic import Field

from edge.wire.fields import Timestamp, WireModel


class Telemetry(WireModel):
    """A snapshot of the box, taken at `ts`."""

    ts: Timestamp = Field(description="When the snapshot was taken (RFC 3339 UTC, ms).")
