"""`edge-agent outbox`: what waits in the durable outbox for the broker, oldest first."""

from __future__ import annotations

import json

from pydantic import BaseModel, JsonValue

from edge.config import AgentConfig
from edge.store import RECORDS_TOPIC, OutboxItem, Store
from edge.wire.fields import JsonObject


class OutboxEntry(BaseModel):
    """One waiting item: a record by its seq, type, ts and record_id, a reply by its status,
    code and command_id; `readable` false (and nothing else) when its payload is no JSON
    object. Only the fields that apply are shown."""

    id: int
    topic: str
    seq: JsonValue = None
    type: JsonValue = None
    ts: JsonValue = None
    record_id: JsonValue = None
    status: JsonValue = None
    code: JsonValue = None
    command_id: JsonValue = None
    bytes: int
    readable: bool = True

    def as_json(self) -> JsonObject:
        return self.model_dump(mode="json", exclude_unset=True)


def list_outbox(config: AgentConfig, limit: int) -> tuple[int, list[OutboxEntry]]:
    """(depth, the first `limit` items). Raises StoreError."""
    with Store.open_readonly(config.storage.path) as store:
        depth = store.outbox_depth()
        items = store.outbox_pending(limit=limit)
    return depth, [_describe(item) for item in items]


def _describe(item: OutboxItem) -> OutboxEntry:
    try:
        payload: JsonValue = json.loads(item.payload)
    except ValueError:
        payload = None
    size = len(item.payload)
    if not isinstance(payload, dict):
        return OutboxEntry(id=item.id, topic=item.topic, bytes=size, readable=False)
    if item.topic == RECORDS_TOPIC:
        return OutboxEntry(
            id=item.id,
            topic=item.topic,
            seq=payload.get("seq"),
            type=payload.get("type"),
            ts=payload.get("ts"),
            record_id=payload.get("record_id"),
            bytes=size,
        )
    return OutboxEntry(
        id=item.id,
        topic=item.topic,
        status=payload.get("status"),
        code=payload.get("code"),
        command_id=payload.get("command_id"),
        bytes=size,
    )


def format_outbox(depth: int, items: list[OutboxEntry]) -> str:
    lines = [f"{depth} waiting" + (f", the first {len(items)}:" if len(items) < depth else ":")]
    for item in items:
        if item.topic == RECORDS_TOPIC:
            what = f"record seq {item.seq} {item.type} {item.ts} {item.record_id}"
        elif item.readable:
            code = f" {item.code}" if item.code else ""
            what = f"reply {item.status}{code} to {item.command_id}"
        else:
            what = f"{item.topic} (unreadable, {item.bytes} bytes)"
        lines.append(f"{item.id:>8}  {what}")
    return "\n".join(lines) if depth else "0 waiting: everything has reached the broker"
