"""The payload of every topic (contract section 2), gathered from the kinds of box, and the
check that a payload is one.

Each kind defines its own records, events, reply results and telemetry (edge/<kind>/); this
module only gathers them: the published model of each record and event type, the envelope of
each command type (COMMAND_MODELS, for the document: the box checks commands itself).
`replies` is edge.commands.CommandReply, `status` edge.wire.status.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal, cast

from pydantic import BaseModel, Field, TypeAdapter, create_model

from edge import storage as storage_events
from edge.cabinet import events as cabinet_events
from edge.cabinet import records as cabinet_records
from edge.cabinet import results as cabinet_results
from edge.cabinet.telemetry import CabinetTelemetry
from edge.commands import COMMANDS, CommandReply, Envelope
from edge.configure import results as configure_results
from edge.configure.events import CONFIG_EVENTS
from edge.identity import BoxKind
from edge.mqtt.events import LINK_EVENTS
from edge.mqtt.topics import json_payload
from edge.parking import events as parking_events
from edge.parking import records as parking_records
from edge.parking import results as parking_results
from edge.parking.telemetry import ParkingTelemetry
from edge.vehicle import events as vehicle_events
from edge.vehicle import records as vehicle_records
from edge.vehicle import results as vehicle_results
from edge.vehicle.telemetry import VehicleTelemetry
from edge.wire.events import event_model
from edge.wire.fields import EventBody, JsonObject, RecordBody, ReplyResult
from edge.wire.probe import Probe
from edge.wire.records import record_model
from edge.wire.status import StatusOffline, StatusOnline
from edge.wire.telemetry import Telemetry

RECORD_BODIES: Final[tuple[type[RecordBody], ...]] = (
    *vehicle_records.RECORDS,
    *cabinet_records.RECORDS,
    *parking_records.RECORDS,
)
EVENT_BODIES: Final[tuple[type[EventBody], ...]] = (
    *vehicle_events.EVENTS,
    *cabinet_events.EVENTS,
    *parking_events.EVENTS,
    *storage_events.EVENTS,
    *LINK_EVENTS,
    *CONFIG_EVENTS,
)
RESULT_MODELS: Final[tuple[type[ReplyResult], ...]] = (
    *vehicle_results.RESULTS,
    *cabinet_results.RESULTS,
    *parking_results.RESULTS,
    *configure_results.RESULTS,
)

RECORD_MODELS: Final[Mapping[str, type[BaseModel]]] = {
    body.record_type: record_model(body) for body in RECORD_BODIES
}
"""Each record type's published model, by its `type`."""

EVENT_MODELS: Final[Mapping[str, type[BaseModel]]] = {
    body.event_type: event_model(body) for body in EVENT_BODIES
}
"""Each event type's published model, by its `type`."""

FAULT_EVENT_TYPES: Final = frozenset(body.event_type for body in EVENT_BODIES if body.fault)
"""The event types logged as `box.fault` (some only while their fields say so)."""

TELEMETRY_MODELS: Final[Mapping[BoxKind, type[Telemetry]]] = {
    "vehicle": VehicleTelemetry,
    "cabinet": CabinetTelemetry,
    "parking": ParkingTelemetry,
}


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


COMMAND_MODELS: Final[Mapping[str, type[Envelope]]] = {
    command_type: _command_model(command_type) for command_type in COMMANDS
}
"""The envelope of each command type, its `type` fixed and its `args` that type's model."""

Status = Annotated[StatusOnline | StatusOffline, Field(discriminator="online")]

OUTGOING_SUFFIXES: Final = ("status", "telemetry", "events", "records", "replies", "probe")


def _by_type(models: Mapping[str, type[BaseModel]]) -> Callable[[bytes], BaseModel]:
    """Validates a payload as the model its `type` names (an unknown type fails)."""
    members: Any = functools.reduce(operator.or_, models.values())
    adapter = TypeAdapter[BaseModel](Annotated[members, Field(discriminator="type")])
    return adapter.validate_json


_VALIDATORS: Final[dict[str, Callable[[bytes], BaseModel]]] = {
    "status": TypeAdapter[StatusOnline | StatusOffline](Status).validate_json,
    "events": _by_type(EVENT_MODELS),
    "records": _by_type(RECORD_MODELS),
    "replies": CommandReply.model_validate_json,
    "probe": Probe.model_validate_json,
}


def validate_outgoing(
    suffix: str, payload: bytes | JsonObject, *, kind: BoxKind | None = None
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
