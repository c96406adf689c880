"""What every kind of box (vehicle, cabinet, parking) offers the agent runtime."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from edge.clock import BoxClock, Now
from edge.commands import CommandReply, VerifiedCommand
from edge.config import AgentConfig
from edge.intents import CancelTimer, Event, Reply, StartTimer, TimerFired, WriteRecord
from edge.store import Store, Transaction

Remember = Callable[[Transaction], None]


@dataclass
class BoxServices:
    """The shared parts a box works with; the runtime builds them once."""

    config: AgentConfig
    store: Store
    clock: BoxClock
    outbox_changed: Callable[[], None]
    publish_event: Callable[[dict[str, Any]], None]
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
    def telemetry(self) -> dict[str, Any]:
        """The kind's telemetry snapshot (contract section 5) without `ts`."""

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
        snapshot: Callable[[], dict[str, Any]],
        on_timer: Callable[[str], None],
        on_hardware: Callable[[Any], None],
        saved: dict[str, Any] | None,
    ) -> None:
        self._services = services
        self._state_key = state_key
        self._snapshot = snapshot
        self._on_timer = on_timer
        self._on_hardware = on_hardware
        self._persisted = saved
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._log = services.logger

    def carry_out(self, intents: list[Any], remember: Remember | None, now: Now) -> None:
        snapshot = self._snapshot()
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
            elif isinstance(intent, Event):
                if intent.is_fault:
                    self._log.warning("box.fault", type=intent.type, **intent.fields)
                else:
                    self._log.info("box.event", type=intent.type, **intent.fields)
                self._services.publish_event({"ts": now.wall, "type": intent.type, **intent.fields})
            elif not isinstance(intent, WriteRecord | Reply):
                self._on_hardware(intent)

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
        snapshot: dict[str, Any],
        durable: list[WriteRecord | Reply],
        remember: Remember | None,
        now: Now,
    ) -> None:
        written: list[tuple[dict[str, Any], dict[str, Any]]] = []
        with self._services.store.transaction() as tx:
            if remember is not None:
                remember(tx)
            tx.put_state(self._state_key, snapshot)
            for intent in durable:
                if isinstance(intent, WriteRecord):
                    record = tx.add_record(
                        intent.type, intent.fields, ts=now.wall, clock_synced=now.clock_synced
                    )
                    written.append((intent.fields, record))
                    self._log.info("record.written", type=intent.type, seq=record["seq"])
                    continue
                # A reply whose result is a record just written carries it as written.
                result = next((r for f, r in written if f == intent.result), intent.result)
                reply = CommandReply(
                    command_id=intent.command_id,
                    status=intent.status,
                    code=intent.code,  # type: ignore[arg-type]  # pydantic parses the code
                    detail=intent.detail or "",
                    result=result,
                )
                tx.add_reply(reply.model_dump(mode="json"))
                self._log.info(
                    "command.replied",
                    command_id=intent.command_id,
                    status=intent.status,
                    code=intent.code,
                )
        self._persisted = snapshot
        if durable:
            self._services.outbox_changed()


class Controller(Protocol):
    """A pure box controller: events in, intents out."""

    def handle(self, event: Any, now: Now) -> list[Any]: ...

    def view(self) -> dict[str, Any]: ...

    def snapshot(self) -> dict[str, Any]: ...


C = TypeVar("C", bound=Controller)


class ControllerBox(Box, Generic[C]):
    """A box whose logic is one pure controller: its events go in through `_apply`, and its
    intents come out through the IntentRunner (durable first) and `_on_hardware`."""

    def _drive(self, controller: C, state_key: str, saved: dict[str, Any] | None) -> None:
        self.controller = controller
        self.runner = IntentRunner(
            self.services,
            state_key,
            controller.snapshot,
            on_timer=lambda name: self._apply(TimerFired(name)),
            on_hardware=self._on_hardware,
            saved=saved,
        )
        self._view = controller.view()

    @abstractmethod
    def _on_hardware(self, intent: Any) -> None:
        """Carry out one of the kind's own hardware intents (after the durable ones)."""

    def _apply(self, event: Any, remember: Remember | None = None) -> None:
        now = self.services.clock.now()
        self._carry_out(self.controller.handle(event, now), remember, now)

    def _carry_out(
        self, intents: list[Any], remember: Remember | None = None, at: Now | None = None
    ) -> None:
        self.runner.carry_out(intents, remember, at or self.services.clock.now())
        self._carried_out()
        view = self.controller.view()
        if view != self._view:
            self._view = view
            self.services.telemetry_changed()

    def _carried_out(self) -> None:
        """Runs after every batch of intents, before the telemetry check."""
