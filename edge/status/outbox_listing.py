"""`edge-agent outbox`: what waits in the durable outbox for the broker, oldest first."""

from __future__ import annotations

import json
from typing import Any

from edge.config import AgentConfig
from edge.store import RECORDS_TOPIC, OutboxItem, Store


def list_outbox(config: AgentConfig, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(depth, the first `limit` items as JSON-ready dicts). Raises StoreError."""
    with Store.open_readonly(config.storage.path) as store:
        depth = store.outbox_depth()
        items = store.outbox_pending(limit=limit)
    return depth, [_describe(item) for item in items]


def _describe(item: OutboxItem) -> dict[str, Any]:
    try:
        payload: Any = json.loads(item.payload)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return {"id": item.id, "topic": item.topic, "bytes": len(item.payload), "readable": False}
    if item.topic == RECORDS_TOPIC:
        key = {"seq": payload.get("seq"), "type": payload.get("type"), "ts": payload.get("ts")}
        ident = {"record_id": payload.get("record_id")}
    else:
        key = {"status": payload.get("status"), "code": payload.get("code")}
        ident = {"command_id": payload.get("command_id")}
    return {"id": item.id, "topic": item.topic, **key, **ident, "bytes": len(item.payload)}


def format_outbox(depth: int, items: list[dict[str, Any]]) -> str:
    lines = [f"{depth} waiting" + (f", the first {len(items)}:" if len(items) < depth else ":")]
    for item in items:
        if item["topic"] == RECORDS_TOPIC:
            what = f"record seq {item['seq']} {item['type']} {item['ts']} {item['record_id']}"
        elif item.get("readable", True):
            code = f" {item['code']}" if item["code"] else ""
            what = f"reply {item['status']}{code} to {item['command_id']}"
        else:
            what = f"{item['topic']} (unreadable, {item['bytes']} bytes)"
        lines.append(f"{item['id']:>8}  {what}")
    return "\n".join(lines) if depth else "0 waiting: everything has reached the broker"
