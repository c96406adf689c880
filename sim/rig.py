"""A whole box on one machine: a private mosquitto, a simulator, the agent and the cloud.

The demo walks a rental on it; the end-to-end tests drive every path through it. Everything
is a real process talking over loopback and a pty, exactly as on a box in the field.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.backend import Backend
from sim.broker import CloudClient, Mosquitto, Received
from sim.harness import AgentProcess, Event, SimProcess, write_toml


class BoxRig:
    def __init__(
        self,
        workdir: Path,
        kind: str,
        *,
        device_id: str = "box-0001",
        sim_args: tuple[str, ...] = (),
        box_settings: dict[str, dict[str, Any]] | None = None,
        echo_agent: Callable[[Event], None] | None = None,
        echo_sim: Callable[[Event], None] | None = None,
    ) -> None:
        self.workdir = workdir
        self.kind = kind
        self.device_id = device_id
        self._echo_agent = echo_agent
        self.broker = Mosquitto(workdir / "mosquitto")
        self.broker.start()
        try:
            self.sim = SimProcess(kind, *sim_args, echo=echo_sim)
        except BaseException:
            self.broker.stop()
            raise
        self.backend = Backend()
        try:
            self.cloud = CloudClient(self.broker, client_id=f"cloud-{device_id}")
        except BaseException:
            self.sim.stop()
            self.broker.stop()
            raise
        self.config_path = self._write_config(box_settings or {})
        self.agent: AgentProcess | None = None

    def _write_config(self, box_settings: dict[str, dict[str, Any]]) -> Path:
        hardware = "can" if self.kind == "vehicle" else "serial"
        sections: dict[str, dict[str, Any]] = {
            "device": {"id": self.device_id, "kind": self.kind},
            "mqtt": {"url": self.broker.url, "reconnect_min_s": 0.1, "reconnect_max_s": 1.0},
            "security": {"backend_public_key": self.backend.keys.public_key_b64},
            "storage": {"path": str(self.workdir / "edge.db")},
            "telemetry": {"interval_s": 1.0},
            "log": {"level": "info"},
            **box_settings,
            f"{self.kind}.{hardware}": dict(self.sim.connect),
        }
        return write_toml(self.workdir / "agent.toml", sections)

    def start_agent(self, *, wait_ready: bool = True) -> AgentProcess:
        self.agent = AgentProcess(self.config_path, wait_ready=wait_ready, echo=self._echo_agent)
        return self.agent

    def kill_agent(self) -> None:
        assert self.agent is not None
        self.agent.kill()

    def topic(self, suffix: str) -> str:
        return f"fleet/v1/{self.device_id}/{suffix}"

    def send(self, envelope: dict[str, Any] | bytes) -> None:
        payload = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
        self.cloud.publish(self.topic("commands"), payload)

    def reply_to(self, command_id: str | None, timeout: float = 15.0) -> dict[str, Any]:
        message = self.cloud.wait_for(
            lambda m: m.topic == self.topic("replies") and m.json().get("command_id") == command_id,
            timeout,
        )
        reply: dict[str, Any] = message.json()
        return reply

    def command(self, command_type: str, timeout: float = 15.0, **args: Any) -> dict[str, Any]:
        """Send a signed command and wait for its reply."""
        envelope = self.backend.command(self.device_id, command_type, args)
        self.send(envelope)
        return self.reply_to(envelope["id"], timeout)

    def records(self) -> list[dict[str, Any]]:
        """Every record received, once each (deduplicated by record_id), in seq order."""
        unique: dict[str, dict[str, Any]] = {}
        for message in self.cloud.select(lambda m: m.topic == self.topic("records")):
            record = message.json()
            unique.setdefault(record["record_id"], record)
        return sorted(unique.values(), key=lambda r: r["seq"])

    def wait_record(self, record_type: str, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        def match(m: Received) -> bool:
            if m.topic != self.topic("records"):
                return False
            record = m.json()
            return record["type"] == record_type and all(
                record.get(k) == v for k, v in fields.items()
            )

        found: dict[str, Any] = self.cloud.wait_for(match, timeout).json()
        return found

    def telemetry(self, match: Callable[[dict[str, Any]], bool], timeout: float = 15.0
                  ) -> dict[str, Any]:
        """The first telemetry snapshot from now on that matches."""
        seen = len(self.cloud.messages)

        def fresh(m: Received) -> bool:
            return m.topic == self.topic("telemetry") and match(m.json())

        def arrived(messages: list[Received]) -> bool:
            return any(fresh(m) for m in messages[seen:])

        self.cloud.wait_until(arrived, timeout)
        found: dict[str, Any] = next(
            m.json() for m in self.cloud.select(lambda m: True)[seen:] if fresh(m)
        )
        return found

    def close(self) -> None:
        for step in (
            lambda: self.agent.stop() if self.agent else None,
            self.sim.stop,
            self.cloud.close,
            self.broker.stop,
        ):
            with contextlib.suppress(Exception):  # closing must reach every part
                step()

    def __enter__(self) -> BoxRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
