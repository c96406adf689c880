"""A whole box on one machine: a private mosquitto, a simulator, the agent and the cloud.

The demo walks a rental on it; the end-to-end tests drive every path through it. Everything
is a real process talking over loopback and a pty, exactly as on a box in the field.

This is the one place for what the rigs of the three kinds share: `BoxRig` (commands,
`refused`, what the cloud got, the simulator's and the agent's JSON lines), the invariants
`assert_records_sound` and `assert_agent_serving`, and `wait_until` (testbed/waiting.py).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from edge.identity import BoxKind
from edge.wire.messages import validate_outgoing
from sim.backend import Backend
from testbed.broker import CloudClient, Mosquitto, Received
from testbed.processes import AgentProcess, JsonLine, SimProcess, write_toml
from testbed.waiting import wait_until, wait_until_async

__all__ = [
    "BoxRig",
    "assert_agent_serving",
    "assert_each_rejected",
    "assert_records_sound",
    "closed_after",
    "wait_until",
    "wait_until_async",
]


class BoxRig:
    def __init__(
        self,
        workdir: Path,
        kind: BoxKind,
        *,
        device_id: str = "box-0001",
        sim_args: tuple[str, ...] = (),
        box_settings: dict[str, dict[str, Any]] | None = None,
        echo_agent: Callable[[JsonLine], None] | None = None,
        echo_sim: Callable[[JsonLine], None] | None = None,
    ) -> None:
        self.agents: list[AgentProcess] = []  # every agent started, so close() stops them all
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

    def start_agent(
        self, *, wait_ready: bool = True, env: dict[str, str] | None = None
    ) -> AgentProcess:
        # Kept before it is waited for: an agent that never gets ready is stopped by close().
        self.agent = AgentProcess(
            self.config_path, wait_ready=False, echo=self._echo_agent, env=env
        )
        self.agents.append(self.agent)
        if wait_ready:
            self.agent.wait_event("agent.ready", timeout=30)
        return self.agent

    def kill_agent(self) -> None:
        assert self.agent is not None
        self.agent.kill()

    def restart_agent(self) -> None:
        """SIGKILL the agent and start a new one on the same store."""
        self.kill_agent()
        self.start_agent()

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

    def telemetry(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 15.0
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

    def ok(self, command_type: str, **args: Any) -> dict[str, Any]:
        """Send a signed command that must succeed; its reply."""
        reply = self.command(command_type, **args)
        assert reply["status"] == "ok", (command_type, reply)
        return reply

    def refused(self, command_type: str, code: str, **args: Any) -> dict[str, Any]:
        """Send a signed command that must be rejected with `code`, without a result; its
        reply."""
        reply = self.command(command_type, **args)
        assert (reply["status"], reply["code"]) == ("rejected", code), (command_type, reply)
        assert reply["result"] is None, (command_type, reply)
        return reply

    def send_command(self, command_type: str, **args: Any) -> str:
        """Send a signed command without waiting; the command's id."""
        envelope = self.backend.command(self.device_id, command_type, args)
        self.send(envelope)
        return str(envelope["id"])

    # --- what the processes printed -------------------------------------------------

    def sim_lines(self, event: str | None = None, since: int = 0, **fields: Any) -> list[JsonLine]:
        """The simulator's JSON lines from `sim.raw` index `since` on (named `event`, with
        `fields`)."""
        return self.sim.logged(event, since, **fields)

    def wait_sim(
        self, event: str, since: int = 0, timeout: float = 10.0, **fields: Any
    ) -> JsonLine:
        """The first simulator line from `sim.raw` index `since` on that is `event` with
        `fields`, waiting for it."""
        return self.sim.wait_logged(event, since, timeout, **fields)

    def fault(self, name: str, on: bool, **options: Any) -> None:
        """Turn the simulator's fault `name` on or off; returns once the simulator has it."""
        since = len(self.sim.raw)
        self.sim.send(op="fault", name=name, on=on, **options)
        self.wait_sim("fault", since, name=name, on=on)

    def agent_lines(self, event: str | None = None) -> list[JsonLine]:
        """The JSON lines (named `event`) of every agent run so far, in order."""
        return [line for agent in self.agents for line in agent.logged(event)]

    # --- what the cloud got ---------------------------------------------------------

    def mark(self) -> int:
        """A point in the cloud's message list, for `since=` below."""
        return len(self.cloud.messages)

    def on_topic(self, suffix: str, since: int = 0) -> list[dict[str, Any]]:
        topic = self.topic(suffix)
        return [m.json() for m in self.cloud.select(lambda m: True)[since:] if m.topic == topic]

    def replies(self, command_id: str | None) -> list[dict[str, Any]]:
        """Every reply received so far to `command_id`, in arrival order."""
        return [r for r in self.on_topic("replies") if r.get("command_id") == command_id]

    def wait_replies(
        self, command_id: str | None, count: int, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """The first `count` replies to `command_id`, waiting for them to arrive."""
        self.cloud.wait_until(lambda _: len(self.replies(command_id)) >= count, timeout)
        return self.replies(command_id)[:count]

    def events(self, event_type: str, since: int = 0) -> list[dict[str, Any]]:
        return [e for e in self.on_topic("events", since) if e.get("type") == event_type]

    def wait_event(
        self, event_type: str, since: int = 0, timeout: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        """The first `events` message of `event_type` (with `fields`) from `since` on."""

        def found() -> list[dict[str, Any]]:
            return [
                e
                for e in self.events(event_type, since)
                if all(e.get(k) == v for k, v in fields.items())
            ]

        self.cloud.wait_until(lambda _: bool(found()), timeout)
        return found()[0]

    def left_running(self) -> list[str]:
        """What this rig started and is still running (after close(), nothing should be)."""
        running = [
            " ".join(p.argv[2:4])
            for p in (*self.agents, getattr(self, "sim", None))
            if p is not None and p.proc.poll() is None
        ]
        if self.broker.proc is not None:
            running.append("mosquitto")
        return running

    def wire_violations(self, limit: int = 5) -> list[str]:
        """Messages the box published that do not match the documented API (edge/wire, the
        models behind docs/asyncapi.json); the first `limit` of them."""
        found: list[str] = []
        prefix = self.topic("")
        for message in self.cloud.select(lambda m: m.topic.startswith(prefix)):
            if message.suffix == "commands":
                continue
            try:
                validate_outgoing(message.suffix, message.payload, kind=self.kind)
            except ValidationError as exc:
                found.append(f"{message.topic} {message.payload[:300]!r}: {exc}")
                if len(found) >= limit:
                    break
        return found

    def close(self) -> None:
        """Stop every part that started; safe on a rig whose start failed half-way."""
        parts: list[tuple[Any, str]] = [(agent, "stop") for agent in self.agents]
        parts += [
            (getattr(self, name, None), how)
            for name, how in (("sim", "stop"), ("cloud", "close"), ("broker", "stop"))
        ]
        for part, how in parts:
            if part is not None:
                with contextlib.suppress(Exception):  # closing must reach every part
                    getattr(part, how)()

    def __enter__(self) -> BoxRig:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


R = TypeVar("R", bound=BoxRig)


@contextlib.contextmanager
def closed_after(rig: R) -> Iterator[R]:
    """Yields `rig`, closes it afterwards and fails if anything it started still runs."""
    try:
        yield rig
        violations = rig.wire_violations()
    finally:
        rig.close()
    running = rig.left_running()
    assert not running, f"left running: {running}"
    assert not violations, "published outside the documented API:\n" + "\n".join(violations)


# --- invariants every box keeps ---------------------------------------------------------

COMMON_RECORD_FIELDS = frozenset({"record_id", "seq", "type", "ts", "clock_synced"})


def assert_records_sound(
    records: list[dict[str, Any]], device_id: str, *, also: tuple[str, ...] = ()
) -> None:
    """Seqs 1, 2, ... without a gap; record ids unique; every record of `device_id`, with
    every common field present (and the fields named in `also`)."""
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1)), records
    assert len({r["record_id"] for r in records}) == len(records)
    for record in records:
        assert record["device_id"] == device_id
        assert COMMON_RECORD_FIELDS | set(also) <= record.keys()


Bad = tuple[str, bytes, str, str | None]  # (what, payload, reply code, the reply's command_id)


def assert_each_rejected(rig: BoxRig, burst: list[Bad]) -> None:
    """Sends the burst of bad commands at once; each is rejected with its code, those whose
    id cannot be read (command_id None) answered in arrival order."""
    for _, payload, _, _ in burst:
        rig.send(payload)
    anonymous = [(what, code) for what, _, code, command_id in burst if command_id is None]
    replies = rig.wait_replies(None, len(anonymous))
    # Answered one by one in arrival order: the anonymous replies line up with the burst.
    assert [(what, r["code"]) for (what, _), r in zip(anonymous, replies, strict=True)] == anonymous
    assert all(r["status"] == "rejected" for r in replies)
    for what, _, code, command_id in burst:
        if command_id is not None:
            reply = rig.reply_to(command_id)
            assert (reply["status"], reply["code"]) == ("rejected", code), (what, reply)


def assert_agent_serving(rig: BoxRig) -> None:
    """The agent runs, and none of its tasks or command handlers died."""
    agent = rig.agent
    assert agent is not None
    assert agent.proc.poll() is None
    dead = ("task_failed", "handler_failed", "Traceback")
    assert not [line for line in agent.raw if any(word in line for word in dead)]
    assert not [line for line in agent.stderr if "Traceback" in line]
