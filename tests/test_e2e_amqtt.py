"""The core rental flow on a second broker implementation: amqtt from PyPI (MQTT 3.1.1 only),
the box and the backend each with a login (amqtt drops an anonymous client's session when it
disconnects, and the commands queued in it: docs/brokers.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from vehicle_rig import DEVICE, FAST, TARIFF

from sim.backend import Backend
from testbed.amqtt_broker import AmqttBroker
from testbed.broker import CloudClient
from testbed.processes import AgentProcess, SimProcess, write_toml
from testbed.rig import assert_records_sound

USERS = {DEVICE: "box-secret", "backend": "backend-secret"}


@pytest.fixture
def amqtt(tmp_path: Path) -> Iterator[AmqttBroker]:
    with AmqttBroker(tmp_path / "amqtt", USERS) as broker:
        yield broker


def test_a_rental_on_amqtt_with_a_login(amqtt: AmqttBroker, tmp_path: Path) -> None:
    backend = Backend()
    sim = SimProcess("vehicle")
    cloud = CloudClient(amqtt, client_id="backend", username="backend", password=USERS["backend"])
    agent: AgentProcess | None = None
    try:
        config = write_toml(
            tmp_path / "agent.toml",
            {
                "device": {"id": DEVICE, "kind": "vehicle"},
                "mqtt": {
                    "url": amqtt.url,
                    "protocol": "3.1.1",
                    "username": DEVICE,
                    "password": USERS[DEVICE],
                    "reconnect_min_s": 0.1,
                    "reconnect_max_s": 1.0,
                },
                "security": {"backend_public_key": backend.keys.public_key_b64},
                "storage": {"path": str(tmp_path / "edge.db")},
                "log": {"level": "debug"},
                "vehicle": dict(FAST),
                "vehicle.can": dict(sim.connect),
            },
        )
        agent = AgentProcess(config)
        agent.wait_logged("mqtt.subscribed", timeout=30)  # a first connection has no session
        commands = f"fleet/v1/{DEVICE}/commands"

        def command(kind: str, **args: object) -> dict[str, object]:
            envelope = backend.command(DEVICE, kind, args)
            cloud.publish(commands, json.dumps(envelope).encode())
            reply = cloud.wait_for(
                lambda m: m.suffix == "replies" and m.json()["command_id"] == envelope["id"], 20
            ).json()
            assert reply["status"] == "ok", reply
            return dict(reply)

        command("start_rental", order_id="o1", renter="r1", tariff=TARIFF)
        command("unlock", order_id="o1")
        command("end_rental", order_id="o1")
        cloud.wait_for(lambda m: m.suffix == "records" and m.json()["type"] == "rental_ended", 20)
        records = {m.json()["record_id"]: m.json() for m in cloud.messages if m.suffix == "records"}
        ordered = sorted(records.values(), key=lambda r: r["seq"])
        assert [r["type"] for r in ordered] == ["rental_started", "rental_ended"]
        assert_records_sound(ordered, DEVICE)
    finally:
        if agent is not None:
            agent.stop()
        cloud.close()
        sim.stop()
