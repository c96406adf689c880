"""What the box publishes and receives over MQTT, as pydantic models (contract sections 2 to 5).

`validate_outgoing` checks a payload against its model; edge/wire/asyncapi.py builds the AsyncAPI
document (docs/asyncapi.json) from the same models and edge.mqtt.topics.Topics.
"""

from edge.wire.messages import (
    COMMAND_MODELS,
    OUTGOING_SUFFIXES,
    Event,
    StatusOffline,
    StatusOnline,
    validate_outgoing,
)
from edge.wire.records import RECORD_MODELS, Record
from edge.wire.telemetry import TELEMETRY_MODELS, Telemetry

__all__ = [
    "COMMAND_MODELS",
    "OUTGOING_SUFFIXES",
    "RECORD_MODELS",
    "TELEMETRY_MODELS",
    "Event",
    "Record",
    "StatusOffline",
    "StatusOnline",
    "Telemetry",
    "validate_outgoing",
]
