"""The `probe` topic (contract 1.1, section 2): what the box publishes to itself."""

from __future__ import annotations

from pydantic import Field

from edge.wire.fields import Timestamp, WireModel


class Probe(WireModel):
    """A message from the box to itself: it must come back while the broker delivers to the
    box. Sent every mqtt.probe_interval_s, one at a time."""

    ts: Timestamp = Field(description="When the box sent it (RFC 3339 UTC, ms).")
    n: int = Field(ge=1, description="Counts up from 1 on every start of the agent.")
