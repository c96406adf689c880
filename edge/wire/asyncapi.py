"""The AsyncAPI 3.0.0 document of the box's MQTT contract, built from the code.

Channel addresses come from edge.mqtt.topics.Topics, payload schemas from the pydantic models
of edge.wire and edge.commands. Operations are seen from the box: it sends on every topic but
`commands`, which it receives.

    python -m edge.wire.asyncapi            writes docs/asyncapi.json
    python -m edge.wire.asyncapi --check    exits 1 when docs/asyncapi.json is not up to date
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, JsonValue
from pydantic.json_schema import models_json_schema

from edge.commands import COMMANDS, CommandReply
from edge.commands.args import EVERY_KIND
from edge.mqtt.config import MqttConfig
from edge.mqtt.link import STATUS_OFFLINE
from edge.mqtt.topics import Topics
from edge.version import agent_version
from edge.wire.messages import COMMAND_MODELS, EVENT_MODELS, RECORD_MODELS, TELEMETRY_MODELS
from edge.wire.probe import Probe
from edge.wire.status import StatusOffline, StatusOnline

ASYNCAPI_VERSION: Final = "3.0.0"
MQTT_BINDING_VERSION: Final = "0.2.0"
DOCUMENT_PATH: Final = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"
TOPICS: Final = Topics("{device_id}")
SCHEMAS_REF: Final = "#/components/schemas/{model}"


@dataclass(frozen=True)
class MessageSpec:
    name: str  # its key in the channel's messages
    model: type[BaseModel]
    summary: str
    description: str = ""


@dataclass(frozen=True)
class ChannelSpec:
    suffix: str  # the topic suffix under fleet/v1/{device_id}/
    address: Callable[[Topics], str]
    action: Literal["send", "receive"]  # from the box's point of view
    qos: Literal[0, 1]
    retain: bool
    description: str
    messages: tuple[MessageSpec, ...]


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def _served_by(command_type: str) -> str:
    kind = COMMANDS[command_type].kind
    served = "every kind of box" if kind == EVERY_KIND else f"a {kind} box"
    return f"The {command_type} command, for {served}."


CHANNELS: Final = (
    ChannelSpec(
        "status",
        lambda topics: topics.status,
        "send",
        1,
        True,
        "Whether the box is connected: {online: true, kind, version, ts} on every connection; "
        "the Last Will (and a clean stop) publishes {online: false}. Retained.",
        (
            MessageSpec("online", StatusOnline, "The box connected."),
            MessageSpec("offline", StatusOffline, "The box is gone (Last Will or clean stop)."),
        ),
    ),
    ChannelSpec(
        "telemetry",
        lambda topics: topics.telemetry,
        "send",
        0,
        False,
        "A snapshot of the box, every telemetry.interval_s and on change. Not queued while "
        "the box is offline: a snapshot is stale by the next one.",
        tuple(
            MessageSpec(kind, model, f"A {kind} box's snapshot.")
            for kind, model in TELEMETRY_MODELS.items()
        ),
    ),
    ChannelSpec(
        "events",
        lambda topics: topics.events,
        "send",
        1,
        False,
        "State changes and faults worth a human's eye: {ts, type, ...} with fields of each "
        "type's own. Queued in memory (bounded) while the box is offline.",
        tuple(
            MessageSpec(event_type, model, _doc(model))
            for event_type, model in EVENT_MODELS.items()
        ),
    ),
    ChannelSpec(
        "records",
        lambda topics: topics.outbox("records"),
        "send",
        1,
        False,
        "Metered records, durable: written to disk before anything else happens, sent in seq "
        "order, deleted only after the broker's PUBACK, kept across restarts and outages. "
        "Never lost, may arrive twice: deduplicate by record_id.",
        tuple(
            MessageSpec(record_type, model, _doc(model))
            for record_type, model in RECORD_MODELS.items()
        ),
    ),
    ChannelSpec(
        "replies",
        lambda topics: topics.outbox("replies"),
        "send",
        1,
        False,
        "The reply to each command, through the durable outbox like records: status ok, "
        "rejected (code says why; nothing changed on the box) or failed (hardware_timeout, "
        "hardware_fault). command_id is null when no id could be read from the command. A "
        'reply to a command that came through a local channel carries "via": "local" (contract '
        "1.1); a reply to a command from MQTT has no via.",
        (MessageSpec("reply", CommandReply, "The reply to a command."),),
    ),
    ChannelSpec(
        "probe",
        lambda topics: topics.probe,
        "send",
        1,
        False,
        "(1.1) The box to itself: every mqtt.probe_interval_s it publishes {ts, n} here and is "
        "subscribed to it. One that does not come back within mqtt.probe_timeout_s while "
        "connected means the broker no longer delivers to the box (a one-way link): event "
        "link_one_way, and the box reconnects with its session kept. The round trip is "
        "telemetry's probe_rtt_ms. The backend may ignore this topic; the broker must let "
        "each box read and write it.",
        (MessageSpec("probe", Probe, "A probe from the box to itself."),),
    ),
    ChannelSpec(
        "commands",
        lambda topics: topics.commands,
        "receive",
        1,
        False,
        "Signed command envelopes from the backend. Signed with the backend's Ed25519 key over "
        "the canonical JSON of the envelope without sig (sort_keys, separators (',', ':'), "
        "ensure_ascii false, UTF-8). Checked in this order, the first failure being the "
        "reply's code: bad_json, bad_schema, wrong_device, bad_signature, expired, replayed, "
        "then the type's own rules (not_allowed, busy).",
        tuple(
            MessageSpec(
                command_type,
                model,
                _served_by(command_type),
                COMMANDS[command_type].effect,
            )
            for command_type, model in COMMAND_MODELS.items()
        ),
    ),
)


SESSION_EXPIRY_DEFAULT_S: Final = MqttConfig.model_fields["session_expiry_s"].default
PROTOCOLS: Final = {
    "5": (
        'MQTT 5 (mqtt.protocol = "5", the default): clean start false with '
        "mqtt.session_expiry_s as the Session Expiry Interval; every reason code logged by "
        "name; a PUBACK with an error reason code is no delivery (the item stays in the "
        "outbox, event outbox_refused); the broker's Receive Maximum, Maximum Packet Size "
        "and Server Keep Alive are respected. The backend may set a Message Expiry on "
        "commands; the box's own expires_at check still rules."
    ),
    "3.1.1": 'MQTT 3.1.1 (mqtt.protocol = "3.1.1"): clean session false.',
}


def _servers() -> dict[str, JsonValue]:
    will: dict[str, JsonValue] = {
        "topic": TOPICS.status,
        "qos": 1,
        "message": STATUS_OFFLINE.decode(),
        "retain": True,
    }

    def server(protocol: str, version: str, port: str, description: str) -> dict[str, JsonValue]:
        binding: dict[str, JsonValue] = {
            "cleanSession": False,
            "lastWill": will,
            "bindingVersion": MQTT_BINDING_VERSION,
        }
        if version == "5":
            binding["sessionExpiryInterval"] = SESSION_EXPIRY_DEFAULT_S
        return {
            "host": "{host}:{port}",
            "protocol": protocol,
            "protocolVersion": version,
            "description": f"{description} {PROTOCOLS[version]}",
            "variables": {
                "host": {"description": "The broker's host name, from mqtt.url."},
                "port": {"default": port, "description": "The broker's port, from mqtt.url."},
            },
            "bindings": {"mqtt": binding},
        }

    plain = "Plain MQTT: mqtt.url = mqtt://host:port."
    tls = (
        "MQTT over TLS: mqtt.url = mqtts://host:port, with a CA file and optionally a client "
        "certificate and key (one identity per box: docs/brokers.md)."
    )
    servers: dict[str, JsonValue] = {}
    for version in PROTOCOLS:
        suffix = "" if version == "5" else "-3.1.1"
        servers[f"mqtt{suffix}"] = server("mqtt", version, "1883", plain)
        servers[f"mqtts{suffix}"] = server("secure-mqtt", version, "8883", tls)
    return servers


def build_document() -> dict[str, JsonValue]:
    """The AsyncAPI document as a JSON-ready dict."""
    models = {message.model for channel in CHANNELS for message in channel.messages}
    refs, definitions = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template=SCHEMAS_REF,
    )
    channels: dict[str, JsonValue] = {}
    operations: dict[str, JsonValue] = {}
    messages: dict[str, JsonValue] = {}
    for channel in CHANNELS:
        in_channel: dict[str, JsonValue] = {}
        for message in channel.messages:
            component = f"{channel.suffix}.{message.name}"
            messages[component] = {
                "name": message.name,
                "title": message.model.__name__,
                "summary": message.summary,
                **({"description": message.description} if message.description else {}),
                "contentType": "application/json",
                "payload": refs[(message.model, "validation")],
            }
            in_channel[message.name] = {"$ref": f"#/components/messages/{component}"}
        channels[channel.suffix] = {
            "address": channel.address(TOPICS),
            "description": channel.description,
            "parameters": {"device_id": {"$ref": "#/components/parameters/device_id"}},
            "messages": in_channel,
        }
        operation: dict[str, JsonValue] = {
            "action": channel.action,
            "channel": {"$ref": f"#/channels/{channel.suffix}"},
            "messages": [
                {"$ref": f"#/channels/{channel.suffix}/messages/{message.name}"}
                for message in channel.messages
            ],
            "bindings": {
                "mqtt": {
                    "qos": channel.qos,
                    "retain": channel.retain,
                    "bindingVersion": MQTT_BINDING_VERSION,
                }
            },
        }
        if channel.suffix == "commands":
            operation["reply"] = {
                "channel": {"$ref": "#/channels/replies"},
                "messages": [{"$ref": "#/channels/replies/messages/reply"}],
            }
        operations[f"{channel.action}_{channel.suffix}"] = operation
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Fleet edge box",
            "version": agent_version(),
            "description": (
                "The MQTT contract between an edge box (a rental car's telematics box, a "
                "sharing cabinet, a shared parking lock) and the fleet backend: fleet contract "
                "version 1.1, sections 2 to 5. Every topic is under fleet/v1/{device_id}/. "
                "Payloads are UTF-8 JSON; timestamps RFC 3339 UTC with milliseconds; money in "
                "integer minor units. Generated from the agent's code by "
                "`python -m edge.wire.asyncapi`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "messages": messages,
            "parameters": {
                "device_id": {
                    "description": "The box's device.id: 1 to 64 of A-Z a-z 0-9 _ -. The MQTT "
                    "client id defaults to it."
                }
            },
        },
    }


def render(document: dict[str, JsonValue]) -> str:
    """The document as committed: indented by 2, keys sorted, a trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m edge.wire.asyncapi", description="Write the box's AsyncAPI document."
    )
    parser.add_argument("--output", type=Path, default=DOCUMENT_PATH, help="%(default)s")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the file differs from a fresh one"
    )
    args = parser.parse_args(argv)
    fresh = render(build_document())
    path: Path = args.output
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != fresh:
            print(f"{path} is out of date: run python -m edge.wire.asyncapi", file=sys.stderr)
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
