"""The box's MQTT topics (contract section 2): all under `fleet/v1/{device_id}/`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, JsonValue

from edge.wire.fields import EventBody, JsonObject

OUTBOX_SUFFIXES: Final = frozenset({"records", "replies"})


@dataclass(frozen=True)
class Topics:
    device_id: str

    @property
    def prefix(self) -> str:
        return f"fleet/v1/{self.device_id}"

    @property
    def status(self) -> str:
        return f"{self.prefix}/status"

    @property
    def telemetry(self) -> str:
        return f"{self.prefix}/telemetry"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    @property
    def commands(self) -> str:
        return f"{self.prefix}/commands"

    @property
    def probe(self) -> str:
        return f"{self.prefix}/probe"

    def outbox(self, suffix: str) -> str:
        """The topic of an outbox item (`records` or `replies`)."""
        if suffix not in OUTBOX_SUFFIXES:
            raise ValueError(
                f"outbox item for topic suffix {suffix!r}, not one of records, replies"
            )
        return f"{self.prefix}/{suffix}"


def json_payload(obj: BaseModel | Mapping[str, JsonValue]) -> bytes:
    """Compact UTF-8 JSON, the form every box-to-cloud payload takes."""
    fields = obj.model_dump(mode="json") if isinstance(obj, BaseModel) else obj
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def event_message(ts: str, event: EventBody) -> JsonObject:
    """An event as published on `events`: `{"ts", "type", **its own fields}`."""
    return {"ts": ts, "type": event.event_type, **event.model_dump(mode="json")}
