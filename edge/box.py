"""What every kind of box (vehicle, cabinet, parking) offers the agent runtime."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge.clock import BoxClock
from edge.commands import VerifiedCommand
from edge.config import AgentConfig
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
