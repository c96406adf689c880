"""Commands as they arrive: checked in the contract's order, then handed to the box."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge.box import Box
from edge.commands import CommandRejected, CommandReply, CommandVerifier
from edge.store import Store, Transaction


class CommandGate:
    """Checks each command in the contract's order; replies to a refused one durably and hands a
    valid one to the box, with the replay entry to commit alongside its first effects."""

    def __init__(
        self,
        verifier: CommandVerifier,
        store: Store,
        box: Box,
        outbox_changed: Callable[[], None],
        logger: Any,
    ) -> None:
        self._verifier = verifier
        self._store = store
        self._box = box
        self._outbox_changed = outbox_changed
        self._log = logger

    async def handle(self, raw: bytes) -> None:
        """Check one command; a rejection is replied to durably, a valid one executed."""
        try:
            command = self._verifier.verify(raw, self._store.command_seen)
        except CommandRejected as rejected:
            self._log.warning(
                "command.rejected",
                command_id=rejected.command_id,
                code=str(rejected.code),
                detail=rejected.detail,
            )
            with self._store.transaction() as tx:
                tx.add_reply(CommandReply.rejected(rejected).model_dump(mode="json"))
            self._outbox_changed()
            return
        self._log.info("command.accepted", command_id=command.id, type=command.type)
        forget_at = self._verifier.forget_at(command)

        def remember(tx: Transaction) -> None:
            tx.accept_command(command.id, forget_at)

        await self._box.execute(command, remember)
