"""The payload of every topic (contract section 2), and the check that a payload is one.

`status` and `events` have their models here; `telemetry` and `records` in their own modules;
`replies` is edge.commands.CommandReply; `commands` are the envelope of edge.commands with each
command type's args (COMMAND_MODELS, for the document: the box checks commands itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from edge.commands import COMMANDS, CommandReply, Envelope
from edge.config import BoxKind
from edge.mqtt.topics import json_payload
from edge.wire.fields import Timestamp, WireModel
from edge.wire.records import AnyRecord
from edge.wire.telemetry import TELEMETRY_MODELS


class StatusOnline(WireModel):
    """Published retained on every connection."""

    online: Literal[True] = Field(description="The box is connected.")
    kind: BoxKind = Field(description="The kind of box: vehicle, cabinet or parking.")
    version: str = Field(description="The agent's version.")
    ts: Timestamp = Field(description="When the connection was made (RFC 3339 UTC, ms).")


class StatusOffline(WireModel):
    """The Last Will, and what a clean stop leaves: published retained."""

    online: Literal[False] = Field(description="The box is not connected.")


class Event(WireModel):
    """A state change or fault worth a human's eye; each `type` carries fields of its own."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    ts: Timestamp = Field(description="When it happened (RFC 3339 UTC, ms).")
    type: str = Field(
        description="What happened, e.g. reservation_expired, eject_not_taken, "
        "forced_removal, lock_fault, ground_lock_fault."
    )


def _command_model(command_type: str) -> type[Envelope]:
    name = "".join(part.capitalize() for part in command_type.split("_")) + "Command"
    args = COMMANDS[command_type].args
    fixed_type: Any = cast(Any, Literal)[command_type]  # a Literal made at run time
    return create_model(
        name,
        __base__=Envelope,
        __doc__=f"The signed envelope of the `{command_type}` command.",
        type=(fixed_type, Field(description="The command type.")),
        args=(args, Field(description=f"The args of `{command_type}`.")),
    )


COMMAND_MODELS: Final[dict[str, type[Envelope]]] = {
    command_type: _command_model(command_type) for command_type in COMMANDS
}
"""The envelope of each command type, its `type` fixed and its `args` that type's model."""

Status = Annotated[StatusOnline | StatusOffline, Field(discriminator="online")]

OUTGOING_SUFFIXES: Final = ("status", "telemetry", "events", "records", "replies")

_VALIDATORS: Final[dict[str, Callable[[bytes], BaseModel]]] = {
    "status": TypeAdapter[StatusOnline | StatusOffline](Status).validate_json,
    "events": Event.model_validate_json,
    "records": TypeAdapter[BaseModel](AnyRecord).validate_json,
    "replies": CommandReply.model_validate_json,
}


def validate_outgoing(
    suffix: str, payload: bytes | dict[str, Any], *, kind: BoxKind | None = None
) -> BaseModel:
    """The model of a payload the box publishes on topic `suffix` (status, telemetry, events,
    records or replies); `kind` (vehicle, cabinet, parking) is needed for telemetry.

    A dict is checked as the JSON the box would publish for it (edge.mqtt.topics.json_payload).
    Raises pydantic.ValidationError when the payload is not what the contract says (bad JSON
    included), ValueError for a suffix or kind it does not know.
    """
    data = payload if isinstance(payload, bytes) else json_payload(payload)
    if suffix == "telemetry":
        model = TELEMETRY_MODELS.get(kind) if kind is not None else None
        if model is None:
            raise ValueError(f"telemetry of which kind of box? kind={kind!r}")
        return model.model_validate_json(data)
    validate = _VALIDATORS.get(suffix)
    if validate is None:
        raise ValueError(f"{suffix!r} is not a topic the box publishes on: {OUTGOING_SUFFIXES}")
    return validate(data)
