"""docs/asyncapi.json is the box's MQTT contract as the code has it: its topics are Topics', its
payloads the pydantic models', and it is what `python -m edge.wire.asyncapi` writes today."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from edge.commands import COMMANDS, CommandReply
from edge.mqtt.topics import Topics
from edge.version import agent_version
from edge.wire.asyncapi import build_document, main, render
from edge.wire.messages import (
    COMMAND_MODELS,
    EVENT_MODELS,
    FAULT_EVENT_TYPES,
    RECORD_MODELS,
    TELEMETRY_MODELS,
)
from edge.wire.probe import Probe
from edge.wire.status import StatusOffline, StatusOnline

REPO = Path(__file__).resolve().parents[1]
DOCUMENT = REPO / "docs" / "asyncapi.json"
TOPICS = Topics("{device_id}")

# Contract section 2, restated here on purpose: the document must say what the contract says.
CONTRACT = {  # suffix: (address, action from the box's side, QoS, retained)
    "status": (TOPICS.status, "send", 1, True),
    "telemetry": (TOPICS.telemetry, "send", 0, False),
    "events": (TOPICS.events, "send", 1, False),
    "records": (TOPICS.outbox("records"), "send", 1, False),
    "commands": (TOPICS.commands, "receive", 1, False),
    "replies": (TOPICS.outbox("replies"), "send", 1, False),
    "probe": (TOPICS.probe, "send", 1, False),  # (1.1) and the box receives its own
}
MODELS: dict[str, dict[str, type[BaseModel]]] = {
    "status": {"online": StatusOnline, "offline": StatusOffline},
    "telemetry": {str(kind): model for kind, model in TELEMETRY_MODELS.items()},
    "events": dict(EVENT_MODELS),
    "records": dict(RECORD_MODELS),
    "commands": dict(COMMAND_MODELS),
    "replies": {"reply": CommandReply},
    "probe": {"probe": Probe},
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """`node`, or what its local $ref points to."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_committed_document_is_what_the_code_generates() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == render(build_document()), (
        "docs/asyncapi.json is out of date: run python -m edge.wire.asyncapi"
    )


def test_it_is_an_asyncapi_3_document_of_this_version(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"] == agent_version()
    assert document["info"]["title"]
    assert document["defaultContentType"] == "application/json"
    assert {
        name: (s["protocol"], s["protocolVersion"]) for name, s in document["servers"].items()
    } == {
        "mqtt": ("mqtt", "5"),
        "mqtts": ("secure-mqtt", "5"),
        "mqtt-3.1.1": ("mqtt", "3.1.1"),
        "mqtts-3.1.1": ("secure-mqtt", "3.1.1"),
    }
    for server in document["servers"].values():
        will = server["bindings"]["mqtt"]["lastWill"]
        assert (will["topic"], json.loads(will["message"]), will["retain"]) == (
            TOPICS.status,
            {"online": False},
            True,
        )


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    for ref in set(refs(document)):
        resolve(document, {"$ref": ref})


def test_channels_are_the_topics_of_the_code(document: dict[str, Any]) -> None:
    addresses = {name: channel["address"] for name, channel in document["channels"].items()}
    assert addresses == {suffix: spec[0] for suffix, spec in CONTRACT.items()}
    for channel in document["channels"].values():
        assert channel["address"].startswith("fleet/v1/{device_id}/")
        assert set(channel["parameters"]) == {"device_id"}


def test_operations_send_and_receive_as_the_contract_says(document: dict[str, Any]) -> None:
    seen = {}
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        mqtt = operation["bindings"]["mqtt"]
        seen[channel] = (operation["action"], mqtt["qos"], mqtt["retain"])
        listed = [m["$ref"] for m in operation["messages"]]
        in_channel = [f"#/channels/{channel}/messages/{name}" for name in MODELS[channel]]
        assert sorted(listed) == sorted(in_channel)
    assert seen == {suffix: spec[1:] for suffix, spec in CONTRACT.items()}
    (receive,) = [op for op in document["operations"].values() if op["action"] == "receive"]
    assert receive["reply"]["channel"] == {"$ref": "#/channels/replies"}


def _check_payload(
    document: dict[str, Any], schema: dict[str, Any], model: type[BaseModel]
) -> dict[str, Any]:
    """The schema names exactly the model's fields, requires exactly its required ones, and
    allows other fields exactly when the model does."""
    schema = resolve(document, schema)
    fields = model.model_fields
    assert sorted(schema["properties"]) == sorted(fields), model.__name__
    required = sorted(name for name, field in fields.items() if field.is_required())
    assert sorted(schema.get("required", [])) == required, model.__name__
    extra = model.model_config.get("extra")
    assert schema.get("additionalProperties") == (extra == "allow"), model.__name__
    return schema


def test_every_message_payload_is_its_model(document: dict[str, Any]) -> None:
    for suffix, channel in document["channels"].items():
        assert set(channel["messages"]) == set(MODELS[suffix]), suffix
        for name, message in channel["messages"].items():
            model = MODELS[suffix][name]
            payload = resolve(document, message)["payload"]
            schema = _check_payload(document, payload, model)
            if suffix in ("records", "events"):
                assert schema["properties"]["type"]["const"] == name
            if suffix == "commands":
                assert schema["properties"]["type"]["const"] == name
                _check_payload(document, schema["properties"]["args"], COMMANDS[name].args)


def test_records_and_events_forbid_unknown_fields(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model in (*RECORD_MODELS.values(), *EVENT_MODELS.values()):
        assert schemas[model.__name__]["additionalProperties"] is False
    money = schemas["Charges"]["properties"]
    assert {money[name]["type"] for name in ("time_cents", "fuel_cents", "total_cents")} == {
        "integer"
    }


def test_the_command_line_writes_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "asyncapi.json"
    assert main(["--check", "--output", str(path)]) == 1  # no file yet
    assert main(["--output", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == DOCUMENT.read_text(encoding="utf-8")
    assert main(["--check", "--output", str(path)]) == 0
    path.write_text(path.read_text(encoding="utf-8").replace("3.0.0", "2.6.0"), encoding="utf-8")
    assert main(["--check", "--output", str(path)]) == 1


def test_the_module_runs_as_a_program() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "edge.wire.asyncapi", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr


def test_each_event_says_whether_it_is_a_fault(document: dict[str, Any]) -> None:
    messages = document["channels"]["events"]["messages"]
    for event_type in messages:
        described = resolve(document, messages[event_type])["payload"]
        summary = document["components"]["schemas"][described["$ref"].rsplit("/", 1)[1]]
        assert summary["description"].startswith(
            "A fault" if event_type in FAULT_EVENT_TYPES else "A state change"
        ), event_type
