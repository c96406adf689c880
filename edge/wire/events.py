"""The `events` topic (contract section 2): `{"ts", "type", ...}`, each type with fields of its
own. Each kind of box defines its events (edge/<kind>/events.py, `EventBody`s); `event_model`
makes the published model of one."""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import ConfigDict, Field, create_model

from edge.wire.fields import EventBody, Timestamp, WireModel


class EventMessage(WireModel):
    """A state change or fault worth a human's eye; each `type` carries fields of its own."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    ts: Timestamp = Field(description="When it happened (RFC 3339 UTC, ms).")
    type: str = Field(description="What happened.")


def event_model(body: type[EventBody]) -> type[WireModel]:
    """The event as published: `ts` and `type` (fixed to the body's `event_type`) and the
    body's own fields, closed to any other."""
    fixed_type: Any = cast(Any, Literal)[body.event_type]  # a Literal made at run time
    kind = "A fault" if body.fault else "A state change"
    return create_model(
        body.__name__,
        __base__=body,
        __doc__=f"{kind}: {' '.join((body.__doc__ or '').split())}",
        ts=(Timestamp, Field(description="When it happened (RFC 3339 UTC, ms).")),
        type=(fixed_type, Field(description="The event type.")),
    )
