"""The snapshots on `telemetry` (contract section 5): what every kind's snapshot carries.

Each kind's own model is in its folder (edge/<kind>/telemetry.py); its box builds it in
`telemetry(ts)`. null stands for what the hardware has not shown (a stale or unavailable
signal, a sensor in fault).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.wire.fields import Timestamp, WireModel


class Telemetry(WireModel):
    """A snapshot of the box, taken at `ts`."""

    ts: Timestamp = Field(description="When the snapshot was taken (RFC 3339 UTC, ms).")
    events_dropped: int = Field(
        default=0,
        ge=0,
        description="(beyond the contract) Events dropped before the broker took them: beyond "
        "storage.max_events, or to make room for records; ever, on this store.",
    )
    probe_rtt_ms: float | None = Field(
        default=None,
        ge=0,
        description="(1.1) The round trip of the last probe the box sent itself through the "
        "broker (mqtt.probe_interval_s), in ms; null before the first came back.",
    )
    storage: Literal["ok", "short", "unwritable"] = Field(
        default="ok",
        description="(beyond the contract) The store: ok; short (within its reserve: no new "
        "rental, reservation or session); unwritable (full, read-only or failing).",
    )
