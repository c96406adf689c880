"""A reply to a command that came through a local channel (the installer's page) carries
`"via": "local"` (contract 1.1, sections 2 and 3), whenever the box writes it: at once, when the
bus confirms later, after a restart. A reply to an MQTT command is byte for byte what it was.

The real gate, verifier, store and VehicleBox (its CAN link not started: the car's frames are
handed to it as the link hands them)."""

from __future__ import annotations

import asyncio
import json
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import structlog
from vehicle_driver import PARKED

from edge.box import BoxServices
from edge.clock import BoxClock
from edge.command_channel import LOCAL_COMMANDS_KEY
from edge.command_gate import CommandGate
from edge.commands import CommandReply, CommandVerifier
from edge.config import validate_config
from edge.store import REPLIES_TOPIC, Store
from edge.vehicle.box import VehicleBox
from sim.backend import Backend

CONFIG = Path(__file__).resolve().parents[1] / "config" / "vehicle.example.toml"
DEVICE = "car-0001"


def test_the_reply_omits_via_unless_the_command_came_locally() -> None:
    mqtt = CommandReply.ok("c-1", {"in_service": True})
    assert mqtt.to_json() == (
        b'{"command_id":"c-1","status":"ok","code":null,"detail":"","result":{"in_service":true}}'
    )
    local = CommandReply(command_id="c-2", status="ok", via="local")
    assert json.loads(local.to_json())["via"] == "local"
    assert CommandReply.model_validate_json(local.to_json()) == local
    schema = CommandReply.model_json_schema()
    assert schema["properties"]["via"]["const"] == "local"
    assert "via" not in schema["required"]


class Car:
    """A VehicleBox on a real store, with an MQTT gate and an installer's one."""

    def __init__(self, workdir: Path, backend: Backend) -> None:
        data = tomllib.loads(CONFIG.read_text())
        data["device"]["id"] = DEVICE
        data["storage"]["path"] = str(workdir / "edge.db")
        data["security"]["backend_public_key"] = backend.keys.public_key_b64
        self.config = validate_config(data)
        self.store = Store(workdir / "edge.db", DEVICE)
        self.counter = 0
        self.box = self.start()
        self._seen = 0

    def start(self) -> VehicleBox:
        services = BoxServices(
            config=self.config,
            store=self.store,
            clock=BoxClock(None, synced=True),
            outbox_changed=lambda: None,
            publish_event=lambda ts, event: None,
            telemetry_changed=lambda: None,
            logger=structlog.get_logger(component="vehicle"),
        )
        box = VehicleBox(services)
        log = structlog.get_logger(component="commands")
        verifier = CommandVerifier.for_config(self.config)
        self.mqtt = CommandGate(verifier, self.store, box, lambda: None, log)
        self.page = CommandGate(verifier, self.store, box, lambda: None, log, channel="installer")
        return box

    def restart(self) -> None:
        self.box.runner.cancel_timers()
        self.box = self.start()
        self.box._resume_once()

    def bus(self, **changes: Any) -> None:
        """The car broadcasts every status message once, showing `changes`."""
        values = {**asdict(PARKED), **changes}
        for broadcast in self.box.codec.broadcasts:
            self.counter += 1
            frame = self.box.codec.encode_status(broadcast.message, values, counter=self.counter)
            self.box._on_frame(*frame)

    def replies(self) -> list[dict[str, Any]]:
        """The replies written since the last call, as their outbox bytes decode."""
        items = self.store.outbox_pending(after_id=self._seen, limit=100)
        if items:
            self._seen = items[-1].id
        return [json.loads(item.payload) for item in items if item.topic == REPLIES_TOPIC]


def test_replies_to_local_commands_say_via_local_whenever_written(tmp_path: Path) -> None:
    backend = Backend()
    car = Car(tmp_path, backend)

    async def steps() -> None:
        car.bus()
        service = backend.set_service(DEVICE, True, "checked")
        await car.mqtt.admit(json.dumps(service).encode())
        (reply,) = car.replies()
        assert reply == {
            "command_id": service["id"],
            "status": "ok",
            "code": None,
            "detail": "",
            "result": {"in_service": True},
        }

        unlock = backend.command(DEVICE, "test_lock_pulse", {"action": "unlock"})
        assert (await car.page.admit(json.dumps(unlock).encode())).accepted
        assert car.replies() == []  # the car has not confirmed yet
        car.bus(lock_state="unlocked")
        (reply,) = car.replies()
        assert (reply["command_id"], reply["status"], reply["via"]) == (unlock["id"], "ok", "local")

        replayed = await car.page.admit(json.dumps(unlock).encode())
        assert replayed.code == "replayed"
        (reply,) = car.replies()
        assert (reply["code"], reply["via"]) == ("replayed", "local")

        lock = backend.command(DEVICE, "test_lock_pulse", {"action": "lock"})
        assert (await car.page.admit(json.dumps(lock).encode())).accepted
        car.restart()  # before the car confirms: the reply owed is written on resume
        (reply,) = car.replies()
        assert (reply["command_id"], reply["code"], reply["via"]) == (
            lock["id"],
            "hardware_fault",
            "local",
        )
        assert car.store.get_state(LOCAL_COMMANDS_KEY) is None  # nothing left to remember

        again = backend.set_service(DEVICE, False, "dent")
        await car.mqtt.admit(json.dumps(again).encode())
        (reply,) = car.replies()
        assert "via" not in reply

    try:
        asyncio.run(steps())
    finally:
        car.box.runner.cancel_timers()
        car.store.close()
