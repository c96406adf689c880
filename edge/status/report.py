"""`edge-agent status`: the box as its store shows it, read beside the running agent.

The rental, slots or parking order come from the box's durable snapshot (what the agent
last committed, so never ahead of the hardware); the telemetry is the one the agent wrote
with its last heartbeat, and says how old it is.
"""

from __future__ import annotations

import importlib
import json
import os
from datetime import UTC, datetime
from typing import Final, TypeVar

from pydantic import BaseModel, JsonValue

from edge.config import AgentConfig
from edge.status.keys import AGENT_STATE_KEY, FAULT_STATE_KEY, LINK_STATE_KEY
from edge.status.models import (
    AgentRun,
    AgentView,
    BoxDescription,
    FaultState,
    LinkState,
    MqttView,
    OutboxSummary,
    StatusReport,
    SyncState,
)
from edge.store import RECORDS_TOPIC, REPLIES_TOPIC, SYNC_STATE_KEY, Store, StoreReader
from edge.timefmt import parse_rfc3339
from edge.version import agent_version
from edge.wire.fields import JsonObject

# Exit codes, as `systemctl status` has them: 0 running and ready, 3 not (or not yet).
EXIT_SERVING: Final = 0
EXIT_NOT_SERVING: Final = 3


def gather_status(config: AgentConfig) -> StatusReport:
    """Everything `status` shows. Raises StoreError when the store cannot be read."""
    with Store.open_readonly(config.storage.path) as store:
        agent = _read(AgentRun, store.get_state(AGENT_STATE_KEY))
        box, rows = _describe_box(config, store)
        by_topic = store.outbox_depth_by_topic()
        first = store.outbox_pending(limit=1)
        sync = _read(SyncState, store.get_state(SYNC_STATE_KEY)) or SyncState()
        link = _read(LinkState, store.get_state(LINK_STATE_KEY)) or LinkState()
        fault = _read(FaultState, store.get_state(FAULT_STATE_KEY))
        last_seq = store.last_record_seq()
    return StatusReport(
        device_id=config.device.id,
        kind=config.device.kind,
        cli_version=agent_version(),
        store=str(config.storage.path),
        agent=_agent_view(agent),
        box=box,
        outbox=OutboxSummary(
            depth=sum(by_topic.values()),
            records=by_topic.get(RECORDS_TOPIC, 0),
            replies=by_topic.get(REPLIES_TOPIC, 0),
            oldest_id=first[0].id if first else None,
            last_record_seq=last_seq,
        ),
        mqtt=MqttView(connected=link.connected, since=link.since, last_sync=sync.last_ack_at),
        last_fault=fault,
        telemetry=None if agent is None else agent.telemetry,
        box_rows=rows,
    )


M = TypeVar("M", bound=BaseModel)


def _read(model: type[M], saved: JsonValue) -> M | None:
    return None if saved is None else model.model_validate(saved)


def exit_code(status: StatusReport) -> int:
    agent = status.agent
    return EXIT_SERVING if agent.state == "running" and agent.ready_at else EXIT_NOT_SERVING


def _describe_box(
    config: AgentConfig, store: StoreReader
) -> tuple[JsonObject, list[tuple[str, str]]]:
    kind = config.device.kind
    box = importlib.import_module(f"edge.{kind}.box")  # its STATE_KEY and load_controller
    saved = store.get_state(box.STATE_KEY)
    try:
        described: BoxDescription = box.load_controller(getattr(config, kind), saved).describe()
    except ValueError as exc:  # SnapshotError, or a snapshot of another cabinet shape
        error = f"the stored {kind} state cannot be read: {exc}"
        return {"error": error}, [(kind, error)]
    return described.model_dump(mode="json"), described.status_rows()


def _agent_view(agent: AgentRun | None) -> AgentView:
    if agent is None:
        return AgentView(state="never started", pid=None, version=None, ready_at=None)
    if agent.stopped_at:
        state = "stopped"
    elif _process_exists(agent.pid):
        state = "running"
    else:
        state = "gone"  # killed, crashed or the box lost power; the next start resumes
    return AgentView(state=state, **agent.model_dump(exclude={"telemetry"}))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def format_status(status: StatusReport, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    agent, outbox, mqtt = status.agent, status.outbox, status.mqtt
    lines = [f"{status.kind} {status.device_id}  (store {status.store})"]
    running = agent.state
    if agent.pid is not None:
        running += f", pid {agent.pid}, edge-agent {agent.version}"
        running += (
            f", ready since {_when(agent.ready_at, now)}"
            if agent.ready_at
            else ", not ready (waiting for its hardware)"
        )
        if agent.heartbeat_at:
            running += f", last heartbeat {_when(agent.heartbeat_at, now)}"
    lines.append(_row("agent", running))
    lines.extend(_row(label, text) for label, text in status.box_rows)
    lines.append(
        _row(
            "outbox",
            f"{outbox.depth} waiting ({outbox.records} records, {outbox.replies}"
            f" replies); last record seq {outbox.last_record_seq}",
        )
    )
    link = (
        "never connected"
        if mqtt.connected is None
        else (
            ("connected" if mqtt.connected else "disconnected") + f" since {_when(mqtt.since, now)}"
        )
    )
    link += f"; last sync {_when(mqtt.last_sync, now)}" if mqtt.last_sync else "; no sync yet"
    lines.append(_row("mqtt", link))
    fault = status.last_fault
    lines.append(
        _row(
            "last fault",
            "none"
            if fault is None
            else f"{_when(fault.ts, now)} {fault.level} {fault.event} {fault.detail}",
        )
    )
    telemetry = status.telemetry
    if telemetry:
        fields = " ".join(
            f"{key}={json.dumps(value, separators=(',', ':'))}"
            for key, value in telemetry.items()
            if key not in ("ts", "slots")
        )
        taken = telemetry.get("ts")
        lines.append(
            _row(
                "telemetry",
                f"as of {_when(taken if isinstance(taken, str) else None, now)}: {fields}",
            )
        )
    return "\n".join(lines)


def _row(label: str, text: str) -> str:
    return f"{label:<11} {text}"


def _when(ts: str | None, now: datetime) -> str:
    if ts is None:
        return "-"
    try:
        age = (now - parse_rfc3339(ts)).total_seconds()
    except ValueError:
        return ts
    return f"{ts} ({_age(age)})"


def _age(seconds: float) -> str:
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"
