"""What every kind of box (vehicle, cabinet, parking) offers the agent runtime."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, JsonValue

from edge.clock import BoxClock, Now
from edge.command_channel import reply_via
from edge.commands import CommandReply, VerifiedCommand
from edge.config import AgentConfig
from edge.intents import (
    CancelTimer,
    HardwareIntent,
    Intent,
    OffTimeCounted,
    RaiseEvent,
    Reply,
    StartTimer,
    TimerFired,
    WriteRecord,
)
from edge.storage import StorageGuard
from edge.store import Store, StoreError, Transaction
from edge.wire.fields import EventBody, JsonObject, WireModel
from edge.wire.telemetry import Telemetry

Remember = Callable[[Transaction], None]
Durable = list[WriteRecord | Reply]


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
    storage: StorageGuard | None = None  # the agent's; None: a failed write raises


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

    def in_use(self) -> str | None:
        """The rental, reservation or parking session running now, named for the log (None
        when there is none): settings that would change how it is handled wait for its end."""
        return None


class IntentRunner:
    """Carries out a pure controller's intents the same way for every kind of box.

    The durable part comes first: the controller's snapshot, its records and replies, and the
    command's replay entry commit in ONE transaction. Only then are timers set, events
    published and the kind's hardware intents (`on_hardware`) carried out.

    A store that cannot take the batch (with a storage guard): stored events are dropped, then
    the store's spare room given up, to make room and the batch tried again; if it still fails
    (read-only, I/O error), the batch's records, replies and replay entry are held in memory
    and written first by the next batch that commits (or when the guard sees writes work
    again), and its hardware intents are NOT carried out.
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
        self._persisted_model: BaseModel | None = None  # the snapshot `_persisted` was dumped from
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._log = services.logger
        self._held: list[tuple[Durable, Remember | None, Now]] = []

    def carry_out(self, intents: Sequence[Intent], remember: Remember | None, now: Now) -> None:
        model = self._snapshot()
        durable = [i for i in intents if isinstance(i, WriteRecord | Reply)]
        must_write = bool(durable) or remember is not None or bool(self._held)
        # A controller that hands back the very snapshot object already durable has not changed.
        if must_write or model is not self._persisted_model:
            snapshot = model.model_dump(mode="json")
            if not must_write and snapshot == self._persisted:
                self._persisted_model = model
            elif not self._persist_or_hold(model, snapshot, durable, remember, now):
                intents = [i for i in intents if not isinstance(i, HardwareIntent)]
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

    def flush(self) -> None:
        """Writes what a failed batch left in memory, with the current snapshot."""
        if self._held:
            model = self._snapshot()
            snapshot = model.model_dump(mode="json")
            self._persist_or_hold(model, snapshot, [], None, self._services.clock.now())

    def _persist_or_hold(
        self,
        model: BaseModel,
        snapshot: JsonValue,
        durable: list[WriteRecord | Reply],
        remember: Remember | None,
        now: Now,
    ) -> bool:
        """True once the batch (and any held before it) is durable; False when it is held."""
        storage = self._services.storage
        batches = [*self._held, (durable, remember, now)]
        if storage is None:
            self._persist(model, snapshot, batches)
            return True
        try:
            self._services.store.with_room(lambda: self._persist(model, snapshot, batches))
        except StoreError as exc:
            storage.write_failed(exc)
            self._held = batches
            return False
        self._held = []
        return True

    def _persist(
        self,
        model: BaseModel,
        snapshot: JsonValue,
        batches: list[tuple[Durable, Remember | None, Now]],
    ) -> None:
        with self._services.store.transaction() as tx:
            written = [self._write(tx, *batch) for batch in batches]
            tx.put_state(self._state_key, snapshot)
        self._persisted, self._persisted_model = snapshot, model
        if any(written):
            self._services.outbox_changed()

    def _write(
        self,
        tx: Transaction,
        durable: list[WriteRecord | Reply],
        remember: Remember | None,
        now: Now,
    ) -> bool:
        written: list[tuple[WireModel, JsonObject]] = []
        if remember is not None:
            remember(tx)
        for intent in durable:
            if isinstance(intent, WriteRecord):
                body = intent.record
                record = tx.add_record(
                    body.record_type,
                    body,
                    ts=now.wall,
                    clock_synced=now.clock_synced and intent.synced,
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
                via=reply_via(tx, intent.command_id),
            )
            tx.add_reply(reply)
            self._log.info(
                "command.replied",
                command_id=intent.command_id,
                status=intent.status,
                code=None if intent.code is None else intent.code.value,
            )
        return bool(durable)


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
        self.services.clock.on_off_time.append(lambda s: self._apply(OffTimeCounted(s)))
        if self.services.storage is not None:
            self.services.storage.on_writable.append(self.runner.flush)

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
        if view is not self._view and view != self._view:
            self._view = view
            self.services.telemetry_changed()

    def _carried_out(self) -> None:
        """Runs after every batch of intents, before the telemetry check."""
