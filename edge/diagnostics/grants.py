"""Installer grants: command envelopes signed by the backend, pasted into the page.

The same CommandVerifier (the backend's key, the same order of checks, the same replay cache
in the store) and the same CommandGate as commands from MQTT, limited to the types an
installer may use (`CommandSpec.installer`: a test eject, a test raise or lower, a lock
pulse). The grant's id is the command's id: its records name it, and its reply goes to the
outbox as any reply, with `"via": "local"` (the page is a local channel).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

from edge.box import Box
from edge.command_gate import CommandGate, GateVerdict
from edge.commands import CommandReply, CommandVerifier
from edge.commands.table import INSTALLER_TYPES
from edge.config import AgentConfig
from edge.store import REPLIES_TOPIC, Store

MAX_GRANT_CHARS: Final = 16 * 1024
REPLY_WAIT_S: Final = 10.0  # a test eject replies once the latch opens


class InstallerGrants:
    def __init__(
        self,
        config: AgentConfig,
        store: Store,
        box: Box,
        outbox_changed: Callable[[], None],
        logger: Any,
    ) -> None:
        self.config = config
        security = config.security
        self.allowed_types = INSTALLER_TYPES[config.device.kind]
        verifier = CommandVerifier(
            device_id=config.device.id,
            public_key=security.public_key,
            clock_skew_s=security.clock_skew_s,
            max_ttl_s=security.max_ttl_s,
            allowed_types=self.allowed_types,
            now=lambda: datetime.now(UTC),
        )
        self._gate = CommandGate(verifier, store, box, outbox_changed, logger, channel="installer")
        self.replies = ReplyWatch(store)

    async def submit(self, text: str) -> tuple[GateVerdict, CommandReply | None]:
        """Checks and, when valid, carries out the grant in `text` (its envelope's JSON); what
        the checks made of it, and the box's reply if it came within REPLY_WAIT_S."""
        with self.replies.watching():
            verdict = await self._gate.admit(text.strip().encode())
            if not verdict.accepted or verdict.command_id is None:
                return verdict, None
            return verdict, await self.replies.reply_to(verdict.command_id, REPLY_WAIT_S)


class ReplyWatch:
    """The replies the box writes while a grant is being submitted, by command id.

    `outbox_changed` runs right after each commit that adds to the outbox, before the MQTT link
    can send (and then delete) what it added: every reply written meanwhile is seen here.
    """

    PAGE: Final = 500

    def __init__(self, store: Store) -> None:
        self._store = store
        self._after = 0
        self._watchers = 0
        self._seen: dict[str, CommandReply] = {}
        self._changed = asyncio.Event()

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        if self._watchers == 0:
            self._seen.clear()
            self._after = self._scan(record=False)
        self._watchers += 1
        try:
            yield
        finally:
            self._watchers -= 1

    def outbox_changed(self) -> None:
        if self._watchers:
            self._after = self._scan(record=True)
            self._changed.set()

    async def reply_to(self, command_id: str, timeout_s: float) -> CommandReply | None:
        """The reply to `command_id` written since `watching` began, waiting up to
        `timeout_s` for it; None when none came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while command_id not in self._seen:
            left = deadline - loop.time()
            if left <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)
        return self._seen[command_id]

    def _scan(self, *, record: bool) -> int:
        after = self._after
        while items := self._store.outbox_pending(after_id=after, limit=self.PAGE):
            after = items[-1].id
            for item in items if record else ():
                if item.topic != REPLIES_TOPIC:
                    continue
                with contextlib.suppress(ValueError):
                    reply = CommandReply.model_validate_json(item.payload)
                    if reply.command_id is not None:
                        self._seen[reply.command_id] = reply
        return after
