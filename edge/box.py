"""What every kind of box (vehicle, cabinet, parking) offers the agent runtime."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, JsonValue

from edge.clock import BoxClock, Now
from edge.commands import CommandReply, VerifiedCommand
from edge.config import AgentConfig
from edge.intents import (
    CancelTimer,
    HardwareIntent,
    Intent,
    RaiseEvent,
    Reply,
    StartTimer,
    TimerFired,
    WriteRecord,
)
from edge.store import Store, Transaction
from edge.wire.fields import EventBody, JsonObject, WireModel
from edge.wire.telemetry import Telemetry

Remember = Callable[[Transaction], None]


@dataclass
class BoxServices:
    """The shared parts a box works with; the runtime builds them once."""

    config: AgentConfig
    store: Store
    clock: BoxClock
    outbox_changed: Callable[[], None]
    publish_event: Callable[[str, EventBody], None]  # (ts, event)
    telemetry_changed: Callable[[], None]
    logger: Any


class Box(ABC):
    def __init__(self, services: BoxServices) -> None:
        self.services = services

    @abstractmethod
    async def run(self, ready: asyncio.Event) -> None:
        """Connect to the hardware (retrying), set `ready` once connected, serve until cancelled."""

    @abstractmethod
    async def execute(self, command: VerifiedCommand, remember: Remember) -> None:
        """Apply a checked command. `remember(tx)` must run inside the transaction that
        commits the command's first effects (its reply or its state), so a replay is refused
        exactly when the command took effect."""

    @abstractmethod
    def telemetry(self, ts: str) -> Telemetry:
        """The kind's telemetry snapshot (contract section 5), taken at `ts`."""

    async def finish(self, timeout_s: float) -> None:  # noqa: B027 - optional hook
        """Let commands in flight complete before shutdown, waiting at most `timeout_s`."""


class IntentRunner:
    """Carries out a pure controller's intents the same way for every kind of box.

    The durable part comes first: the controller's snapshot, its records and replies, and the
    command's replay entry commit in ONE transaction. Only then are timers set, events
    published and the kind's hardware intents (`on_hardware`) carried out.
    """

    def __init__(
        self,
        services: BoxServices,
        state_key: str,
        snapshot: Callable[[], BaseModel],
        on_timer: Callable[[str], None],
        on_hardware: Callable[[HardwareIntent], None],
        saved: JsonValue,
    ) -> None:
        self._services = services
        self._state_key = state_key
        self._snapshot = snapshot
        self._on_timer = on_timer
        self._on_hardware = on_hardware
        self._persisted: JsonValue = saved
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._log = services.logger

    def carry_out(self, intents: Sequence[Intent], remember: Remember | None, now: Now) -> None:
        snapshot = self._snapshot().model_dump(mode="json")
        durable = [i for i in intents if isinstance(i, WriteRecord | Reply)]
        if durable or remember is not None or snapshot != self._persisted:
            self._persist(snapshot, durable, remember, now)
        for intent in intents:
            if isinstance(intent, StartTimer):
                self._start_timer(intent.name, intent.seconds)
            elif isinstance(intent, CancelTimer):
                handle = self._timers.pop(intent.name, None)
                if handle is not None:
                    handle.cancel()
            elif isinstance(intent, RaiseEvent):
                self.raise_event(intent.event, now)
            elif isinstance(intent, HardwareIntent):
                self._on_hardware(intent)

    def raise_event(self, event: EventBody, now: Now) -> None:
        """Logs the event (`box.fault` or `box.event`) and publishes it on `events`."""
        fields = event.model_dump(mode="json")
        if event.is_fault():
            self._log.warning("box.fault", type=event.event_type, **fields)
        else:
            self._log.info("box.event", type=event.event_type, **fields)
        self._services.publish_event(now.wall, event)

    def cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def _start_timer(self, name: str, seconds: float) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        self._timers[name] = asyncio.get_running_loop().call_later(seconds, self._fire, name)

    def _fire(self, name: str) -> None:
        self._timers.pop(name, None)
        self._on_timer(name)

    def _persist(
        self,
        snapshot: JsonValue,
        durable: list[WriteRecord | Reply],
        remember: Remember | None,
        now: Now,
    ) -> None:
        written: list[tuple[WireModel, JsonObject]] = []
        with self._services.store.transaction() as tx:
            if remember is not None:
                remember(tx)
            tx.put_state(self._state_key, snapshot)
            for intent in durable:
                if isinstance(intent, WriteRecord):
                    body = intent.record
                    record = tx.add_record(
                        body.record_type, body, ts=now.wall, clock_synced=now.clock_synced
                    )
                    written.append((body, record))
                    self._log.info("record.written", type=body.record_type, seq=record["seq"])
                    continue
                reply = CommandReply(
                    command_id=intent.command_id,
                    status=intent.status,
                    code=intent.code,
                    detail=intent.detail or "",
                    result=_reply_result(intent, written),
                )
                tx.add_reply(reply)
                self._log.info(
                    "command.replied",
                    command_id=intent.command_id,
                    status=intent.status,
                    code=None if intent.code is None else intent.code.value,
                )
        self._persisted = snapshot
        if durable:
            self._services.outbox_changed()


def _reply_result(reply: Reply, written: list[tuple[WireModel, JsonObject]]) -> JsonObject | None:
    """The reply's result as JSON; a record written in the same batch as it was published."""
    if reply.result is None:
        return None
    as_written = next((record for body, record in written if body == reply.result), None)
    return as_written if as_written is not None else reply.result.model_dump(mode="json")


InputT = TypeVar("InputT", contravariant=True)


class Controller(Protocol[InputT]):
    """A pure box controller: inputs in, intents out."""

    def handle(self, event: InputT, now: Now) -> list[Intent]: ...

    def view(self) -> BaseModel: ...

    def snapshot(self) -> BaseModel: ...

    def resume(self, now: Now) -> list[Intent]: ...


C = TypeVar("C", bound=Controller[Any])


class ControllerBox(Box, Generic[C]):
    """A box whose logic is one pure controller: its events go in through `_apply`, and its
    intents come out through the IntentRunner (durable first) and `_on_hardware`."""

    def _drive(self, load: Callable[[JsonValue], C], state_key: str) -> None:
        """Drives the controller `load` makes of what the store holds under `state_key` (None
        on a new box); one restored from the store resumes when `_resume_once` is called."""
        saved = self.services.store.get_state(state_key)
        controller = load(saved)
        self.controller = controller
        self._resuming = saved is not None
        self.runner = IntentRunner(
            self.services,
            state_key,
            controller.snapshot,
            on_timer=lambda name: self._apply(TimerFired(name)),
            on_hardware=self._on_hardware,
            saved=saved,
        )
        self._view = controller.view()

    def _resume_once(self) -> None:
        """After a restart: what the restored controller owes (replies to commands that were
        in flight, timers again). Nothing on a new box, and nothing the second time."""
        if self._resuming:
            self._resuming = False
            self._carry_out(self.controller.resume(self.services.clock.now()))

    @abstractmethod
    def _on_hardware(self, intent: HardwareIntent) -> None:
        """Carry out one of the kind's own hardware intents (after the durable ones)."""

    def _apply(self, event: object, remember: Remember | None = None) -> None:
        now = self.services.clock.now()
        self._carry_out(self.controller.handle(event, now), remember, now)

    def _carry_out(
        self, intents: Sequence[Intent], remember: Remember | None = None, at: Now | None = None
    ) -> None:
        self.runner.carry_out(intents, remember, at or self.services.clock.now())
        self._carried_out()
        view = self.controller.view()
        if view != self._view:
            self._view = view
            self.services.telemetry_changed()

    def _carried_out(self) -> None:
        """Runs after every batch of intents, before the telemetry check."""
