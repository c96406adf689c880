"""How the agent starts the installer's page: only when `[diagnostics] enabled`, and only
then is aiohttp imported."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from edge.box import Box
from edge.clock import BoxClock
from edge.config import AgentConfig
from edge.logs import get_logger
from edge.mqtt.link import MqttLink
from edge.store import Store
from edge.version import agent_version
from edge.wire.fields import EventBody


class Diagnostics(Protocol):
    async def run(self, ready: asyncio.Event) -> None: ...

    def note_event(self, ts: str, event: EventBody) -> None: ...

    def outbox_changed(self) -> None: ...


def start_diagnostics(
    config: AgentConfig,
    box: Box,
    store: Store,
    clock: BoxClock,
    link: MqttLink,
    outbox_changed: Callable[[], None],
) -> Diagnostics | None:
    """The page of this agent, to run on its loop; None when it is not enabled."""
    if not config.diagnostics.enabled:
        return None
    from edge.diagnostics.grants import InstallerGrants
    from edge.diagnostics.live import LiveSource
    from edge.diagnostics.server import DiagnosticsServer

    live = LiveSource(config, box=box, store=store, clock=clock, link=link, version=agent_version())
    grants = InstallerGrants(config, store, box, outbox_changed, get_logger("commands"))
    return DiagnosticsServer(config.diagnostics, live, grants, get_logger("diagnostics"))
