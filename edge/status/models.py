"""What `edge-agent status` is made of: the state the running agent journals in the store, and
the report the command prints (`--json` is this report's JSON)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from edge.wire.fields import JsonObject


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AgentRun(_State):
    """This run of the agent, under AGENT_STATE_KEY; the heartbeat carries the telemetry."""

    pid: int
    device_id: str
    kind: str
    version: str
    started_at: str | None = None
    ready_at: str | None = None
    heartbeat_at: str | None = None
    stopped_at: str | None = None
    telemetry: JsonObject | None = None


class LinkState(_State):
    """The broker connection, under LINK_STATE_KEY."""

    connected: bool | None = None
    since: str | None = None


class SyncState(_State):
    """When the broker last acknowledged an outbox item, under the store's SYNC_STATE_KEY."""

    last_ack_at: str | None = None


class FaultState(_State):
    """The last warning or error logged, under FAULT_STATE_KEY."""

    ts: str | None
    level: str
    event: str
    component: str | None
    detail: str


class AgentView(BaseModel):
    """The agent as `status` sees it: `state` is running, stopped, gone or never started."""

    state: str
    pid: int | None = None
    device_id: str | None = None
    kind: str | None = None
    version: str | None = None
    started_at: str | None = None
    ready_at: str | None = None
    heartbeat_at: str | None = None
    stopped_at: str | None = None


class OutboxSummary(BaseModel):
    depth: int
    records: int
    replies: int
    oldest_id: int | None
    last_record_seq: int


class MqttView(BaseModel):
    connected: bool | None
    since: str | None
    last_sync: str | None


class BoxDescription(Protocol):
    """A kind's durable state as `status` shows it (each kind's controller `describe()`)."""

    def model_dump(self, *, mode: str) -> dict[str, JsonValue]: ...

    def status_rows(self) -> list[tuple[str, str]]:
        """(label, text) lines for the text report."""
        ...


class StatusReport(BaseModel):
    device_id: str
    kind: str
    cli_version: str
    store: str
    agent: AgentView
    box: JsonObject
    outbox: OutboxSummary
    mqtt: MqttView
    last_fault: FaultState | None
    telemetry: JsonObject | None
    box_rows: list[tuple[str, str]] = Field(exclude=True)
    """The box's lines of the text report (not in the JSON)."""

    def as_json(self) -> JsonObject:
        """The JSON of `status --json`; the agent view has only the keys it knows."""
        shown = self.model_dump(mode="json")
        shown["agent"] = self.agent.model_dump(mode="json", exclude_unset=True)
        return shown
