"""The retained `status` topic (contract section 2): online on connect, offline as the Will."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.identity import BoxKind
from edge.wire.fields import Timestamp, WireModel


class StatusOnline(WireModel):
    """Published retained on every connection."""

    online: Literal[True] = Field(description="The box is connected.")
    kind: BoxKind = Field(description="The kind of box: vehicle, cabinet or parking.")
    version: str = Field(description="The agent's version.")
    ts: Timestamp = Field(description="When the connection was made (RFC 3339 UTC, ms).")


class StatusOffline(WireModel):
    """The Last Will, and what a clean stop leaves: published retained."""

    online: Literal[False] = Field(description="The box is not connected.")
