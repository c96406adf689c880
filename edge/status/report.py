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
from typing import Any, Final

from edge.config import AgentConfig
from edge.status.keys import AGENT_STATE_KEY, FAULT_STATE_KEY, LINK_STATE_KEY
from edge.store import RECORDS_TOPIC, REPLIES_TOPIC, SYNC_STATE_KEY, Store, StoreReader
from edge.timefmt import parse_rfc3339
from edge.version import agent_version

# Exit codes, as `systemctl status` has them: 0 running and ready, 3 not (or not yet).
EXIT_SERVING: Final = 0
EXIT_NOT_SERVING: Final = 3


def gather_status(config: AgentConfig) -> dict[str, Any]:
    """Everything `status` shows, as one JSON-ready dict. Raises StoreError when the store
    cannot be read."""
    with Store.open_readonly(config.storage.path) as store:
        agent = store.get_state(AGENT_STATE_KEY)
        box = _describe_box(config, store)
        by_topic = store.outbox_depth_by_topic()
        first = store.outbox_pending(limit=1)
        sync = store.get_state(SYNC_STATE_KEY) or {}
        link = store.get_state(LINK_STATE_KEY) or {}
        fault = store.get_state(FAULT_STATE_KEY)
        last_seq = store.last_record_seq()
    return {
        "device_id": config.device.id,
        "kind": config.device.kind,
        "cli_version": agent_version(),
        "store": str(config.storage.path),
        "agent": _agent_view(agent),
        "box": box,
        "outbox": {
            "depth": sum(by_topic.values()),
            "records": by_topic.get(RECORDS_TOPIC, 0),
            "replies": by_topic.get(REPLIES_TOPIC, 0),
            "oldest_id": first[0].id if first else None,
            "last_record_seq": last_seq,
        },
        "mqtt": {
            "connected": link.get("connected"),
            "since": link.get("since"),
            "last_sync": sync.get("last_ack_at"),
        },
        "last_fault": fault,
        "telemetry": None if agent is None else agent.get("telemetry"),
    }


def exit_code(status: dict[str, Any]) -> int:
    agent = status["agent"]
    return EXIT_SERVING if agent["state"] == "running" and agent["ready_at"] else EXIT_NOT_SERVING


def _describe_box(config: AgentConfig, store: StoreReader) -> dict[str, Any]:
    kind = config.device.kind
    box = importlib.import_module(f"edge.{kind}.box")  # its STATE_KEY and load_controller
    saved = store.get_state(box.STATE_KEY)
    try:
        described: dict[str, Any] = box.load_controller(getattr(config, kind), saved).describe()
    except ValueError as exc:  # SnapshotError, or a snapshot of another cabinet shape
        return {"error": f"the stored {kind} state cannot be read: {exc}"}
    return described


def _agent_view(agent: dict[str, Any] | None) -> dict[str, Any]:
    if agent is None:
        return {"state": "never started", "pid": None, "version": None, "ready_at": None}
    if agent.get("stopped_at"):
        state = "stopped"
    elif _process_exists(int(agent["pid"])):
        state = "running"
    else:
        state = "gone"  # killed, crashed or the box lost power; the next start resumes
    view = {key: value for key, value in agent.items() if key != "telemetry"}
    view["state"] = state
    return view


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def format_status(status: dict[str, Any], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    agent, outbox, mqtt = status["agent"], status["outbox"], status["mqtt"]
    lines = [f"{status['kind']} {status['device_id']}  (store {status['store']})"]
    running = agent["state"]
    if agent["pid"] is not None:
        running += f", pid {agent['pid']}, edge-agent {agent['version']}"
        running += (
            f", ready since {_when(agent['ready_at'], now)}"
            if agent["ready_at"]
            else ", not ready (waiting for its hardware)"
        )
        if agent.get("heartbeat_at"):
            running += f", last heartbeat {_when(agent['heartbeat_at'], now)}"
    lines.append(_row("agent", running))
    lines.extend(_box_rows(status["kind"], status["box"]))
    lines.append(
        _row(
            "outbox",
            f"{outbox['depth']} waiting ({outbox['records']} records, {outbox['replies']}"
            f" replies); last record seq {outbox['last_record_seq']}",
        )
    )
    link = (
        "never connected"
        if mqtt["connected"] is None
        else (
            ("connected" if mqtt["connected"] else "disconnected")
            + f" since {_when(mqtt['since'], now)}"
        )
    )
    link += f"; last sync {_when(mqtt['last_sync'], now)}" if mqtt["last_sync"] else "; no sync yet"
    lines.append(_row("mqtt", link))
    fault = status["last_fault"]
    lines.append(
        _row(
            "last fault",
            "none"
            if fault is None
            else f"{_when(fault['ts'], now)} {fault['level']} {fault['event']} {fault['detail']}",
        )
    )
    telemetry = status["telemetry"]
    if telemetry:
        fields = " ".join(
            f"{key}={json.dumps(value, separators=(',', ':'))}"
            for key, value in telemetry.items()
            if key not in ("ts", "slots")
        )
        lines.append(_row("telemetry", f"as of {_when(telemetry.get('ts'), now)}: {fields}"))
    return "\n".join(lines)


def _box_rows(kind: str, box: dict[str, Any]) -> list[str]:
    if "error" in box:
        return [_row(kind, box["error"])]
    if kind == "vehicle":
        rental = box["rental"]
        if rental != "none":
            rental += f" order {box['order_id']} renter {box['renter']}"
            if box["started_at"]:
                rental += f" started {box['started_at']}"
        service = "in service" if box["in_service"] else f"out of service: {box['service_reason']}"
        return [_row("rental", rental), _row("service", service)]
    if kind == "cabinet":
        rows = [_row("slots", "slot state           bank             charge enabled")]
        for slot in box["slots"]:
            rows.append(
                _row(
                    "",
                    f"{slot['slot']:>4} {slot['state']:<16} {slot['bank_id'] or '-':<16}"
                    f" {_pct(slot['charge_pct']):>6} {'yes' if slot['enabled'] else 'no'}",
                )
            )
        for held in box["reservations"]:
            rows.append(
                _row(
                    "reservation",
                    f"{held['reservation_id']} {held['purpose']} slots {held['slots']}"
                    f" until {held['expires_at']}",
                )
            )
        for rent in box["rents"]:
            rows.append(_row("rent", f"order {rent['order_id']} slots {rent['slots']}"))
        return rows
    order = box["order"]
    return [
        _row(
            "parking",
            "no order"
            if order is None
            else f"order {order['order_id']} {order['phase']} started {order['started_at']}",
        )
    ]


def _row(label: str, text: str) -> str:
    return f"{label:<11} {text}"


def _pct(value: int | None) -> str:
    return "-" if value is None else f"{value}%"


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
