"""What the installer's page shows, gathered from the running agent: one typed snapshot.

Read on the agent's loop from the parts themselves (the box's telemetry, the MQTT link's
counters, the store's outbox), never from the cloud: the page works with the broker gone.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from typing import Final

from pydantic import Field, JsonValue, SerializeAsAny

from edge.box import Box
from edge.clock import BoxClock
from edge.config import AgentConfig
from edge.faults import FAULTS, Fault, FaultRecorder
from edge.mqtt.link import MqttLink
from edge.serial.health import SerialLinkHealth
from edge.store import Store
from edge.timefmt import rfc3339
from edge.wire.fields import EventBody, JsonObject, WireModel
from edge.wire.telemetry import Telemetry

RECENT_EVENTS: Final = 20
RECENT_FAULTS: Final = 10


class AgentInfo(WireModel):
    device_id: str
    kind: str
    version: str
    started_at: str
    uptime_s: float = Field(ge=0)
    ready: bool


class MqttInfo(WireModel):
    connected: bool
    last_sync: str | None = Field(description="When the broker last acknowledged an item.")
    connects: int
    reconnects: int
    connect_failures: int
    published: int
    acked: int


class HardwareLink(WireModel):
    """The CAN bus or serial line: whether it is open, and its counters since the start."""

    name: str
    up: bool | None
    counters: dict[str, int]


class FaultInfo(WireModel):
    """A line logged at warning or worse."""

    ts: str | None
    level: str
    event: str
    component: str | None
    detail: str


class EventInfo(WireModel):
    """An event the box published on `events`."""

    ts: str
    type: str
    fault: bool
    fields: JsonObject


class SignalRow(WireModel):
    """One vehicle signal: its value while fresh, null once older than its staleness limit."""

    name: str
    value: JsonValue
    fresh: bool
    age_s: float | None = Field(
        description="Seconds since the bus (or OBD-II) last showed it; for a signal read from "
        "several messages, since the oldest of them. Null while none is held."
    )
    stale_after_ms: float | None = Field(description="A value is dropped when older than this.")


class LiveState(WireModel):
    ts: str
    agent: AgentInfo
    mqtt: MqttInfo
    outbox_depth: int
    hardware: HardwareLink | None
    telemetry: SerializeAsAny[Telemetry]
    signals: list[SignalRow] | None = Field(description="The vehicle's signals; null otherwise.")
    faults: list[FaultInfo] = Field(description="The last faults logged, newest first.")
    events: list[EventInfo] = Field(description="The last events published, newest first.")


class LiveSource:
    """Gathers `LiveState` from the agent's parts; `note_event` and `note_faults` keep the
    recent history the parts themselves do not."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        box: Box,
        store: Store,
        clock: BoxClock,
        link: MqttLink,
        version: str,
        faults: FaultRecorder = FAULTS,
    ) -> None:
        self._config = config
        self._box = box
        self._store = store
        self._clock = clock
        self._link = link
        self._version = version
        self._fault_recorder = faults
        self._started_mono = time.monotonic()
        self._started_at = clock.now().wall
        self._events: deque[EventInfo] = deque(maxlen=RECENT_EVENTS)
        self._faults: deque[FaultInfo] = deque(maxlen=RECENT_FAULTS)
        self._fault_seen = 0 if faults.last is None else faults.last.number
        self.ready: Callable[[], bool] = lambda: False

    def note_event(self, ts: str, event: EventBody) -> None:
        fields = event.model_dump(mode="json")
        self._events.appendleft(
            EventInfo(ts=ts, type=event.event_type, fault=event.is_fault(), fields=fields)
        )

    def note_faults(self) -> None:
        """Takes the last fault logged into the history, once (the recorder keeps only one)."""
        fault = self._fault_recorder.last
        if fault is not None and fault.number != self._fault_seen:
            self._fault_seen = fault.number
            self._faults.appendleft(_fault_info(fault))

    def gather(self) -> LiveState:
        self.note_faults()
        now = self._clock.now().wall
        telemetry = self._box.telemetry(now)
        config, link = self._config, self._link
        counters = link.counters
        return LiveState(
            ts=now,
            agent=AgentInfo(
                device_id=config.device.id,
                kind=config.device.kind,
                version=self._version,
                started_at=self._started_at,
                uptime_s=round(time.monotonic() - self._started_mono, 1),
                ready=self.ready(),
            ),
            mqtt=MqttInfo(
                connected=link.connected,
                last_sync=None if link.last_sync is None else rfc3339(link.last_sync),
                connects=counters.connects,
                reconnects=counters.reconnects,
                connect_failures=counters.connect_failures,
                published=counters.published,
                acked=counters.acked,
            ),
            outbox_depth=self._store.outbox_depth(),
            hardware=self._hardware(telemetry),
            telemetry=telemetry,
            signals=self._signals(),
            faults=list(self._faults),
            events=list(self._events),
        )

    def _hardware(self, telemetry: Telemetry) -> HardwareLink | None:
        if self._config.device.kind == "vehicle":
            from edge.vehicle.box import VehicleBox

            box = self._box
            assert isinstance(box, VehicleBox)
            counters = {
                **dataclasses.asdict(box.can.counters),
                **dataclasses.asdict(box.table.counters),
                "bad_frames": box.bad_frames,
            }
            return HardwareLink(name="CAN bus", up=box.can.up, counters=counters)
        health = getattr(telemetry, "link", None)
        if not isinstance(health, SerialLinkHealth):
            return None
        shown = health.model_dump()
        up = shown.get("up")
        numbers = {
            name: value for name, value in shown.items() if type(value) is int and name != "up"
        }
        return HardwareLink(
            name="serial line", up=up if isinstance(up, bool) else None, counters=numbers
        )

    def _signals(self) -> list[SignalRow] | None:
        if self._config.device.kind != "vehicle":
            return None
        from edge.can.signals import STALE_CYCLES
        from edge.vehicle.box import SIGNAL_NAMES, VehicleBox

        box = self._box
        assert isinstance(box, VehicleBox)
        now = box.services.clock.mono()
        values = box.table.snapshot(SIGNAL_NAMES)
        rows = []
        for name in SIGNAL_NAMES:
            sources = box.codec.sources(name) or (name,)
            ages = [age for key in sources if (age := box.table.age(key, now)) is not None]
            cycles = [box.codec.cycle_s[key] for key in sources if key in box.codec.cycle_s]
            rows.append(
                SignalRow(
                    name=name,
                    value=_json_value(values[name]),
                    fresh=values[name] is not None,
                    age_s=round(max(ages), 2) if ages else None,
                    stale_after_ms=round(max(cycles) * STALE_CYCLES * 1e3) if cycles else None,
                )
            )
        return rows


def _json_value(value: object) -> JsonValue:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _fault_info(fault: Fault) -> FaultInfo:
    return FaultInfo(
        ts=fault.ts,
        level=fault.level,
        event=fault.event,
        component=fault.component,
        detail=fault.detail,
    )
