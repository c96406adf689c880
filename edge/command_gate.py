"""Commands as they arrive: checked in the contract's order, then handed to the box."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from edge.box import Box
from edge.command_channel import remember_local
from edge.commands import COMMANDS, CommandRejected, CommandReply, CommandVerifier, VerifiedCommand
from edge.commands.reply import RejectCode, Via
from edge.storage import StorageGuard
from edge.store import Store, StoreError, Transaction

# Carries out a checked command; `remember(tx)` goes into the transaction of its first effects.
Execute = Callable[[VerifiedCommand, Callable[[Transaction], None]], Awaitable[None]]


@dataclass(frozen=True)
class GateVerdict:
    """What the checks made of a command: accepted (handed to the box, its reply to come) or
    rejected with a code (its reply already in the outbox)."""

    command_id: str | None
    command_type: str | None
    code: RejectCode | None = None
    detail: str = ""

    @property
    def accepted(self) -> bool:
        return self.code is None


class CommandGate:
    """Checks each command in the contract's order; replies to a refused one durably and hands a
    valid one to the box, with the replay entry to commit alongside its first effects.

    `channel` names where the commands come from in the log (`mqtt`, `installer`); the replies
    to commands from any channel but `mqtt` carry `"via": "local"` (contract 1.1, section 3)."""

    def __init__(
        self,
        verifier: CommandVerifier,
        store: Store,
        box: Box,
        outbox_changed: Callable[[], None],
        logger: Any,
        channel: str = "mqtt",
        storage: StorageGuard | None = None,
        handlers: Mapping[str, Execute] | None = None,
    ) -> None:
        self._verifier = verifier
        self._handlers = handlers or {}  # command types of every kind (`configure`)
        self._store = store
        self._box = box
        self._outbox_changed = outbox_changed
        self._log = logger
        self._channel = channel
        # Every channel but MQTT is a local one: its replies carry `"via": "local"`.
        self._via: Via | None = None if channel == "mqtt" else "local"
        self._storage = storage
        # Refusals whose reply the store could not take yet, oldest first.
        self._held: list[tuple[CommandRejected, Callable[[Transaction], None] | None]] = []
        if storage is not None:
            storage.on_writable.append(self._write_held)

    async def handle(self, raw: bytes) -> None:
        """Check one command; a rejection is replied to durably, a valid one executed."""
        await self.admit(raw)

    async def admit(self, raw: bytes) -> GateVerdict:
        """As `handle`, and says what became of the command."""
        try:
            command = self._verifier.verify(raw, self._store.command_seen)
        except CommandRejected as rejected:
            self._log.warning(
                "command.rejected",
                command_id=rejected.command_id,
                code=str(rejected.code),
                detail=rejected.detail,
                channel=self._channel,
            )
            self._reply(rejected)
            return GateVerdict(rejected.command_id, None, rejected.code, rejected.detail)
        self._log.info(
            "command.accepted", command_id=command.id, type=command.type, channel=self._channel
        )
        forget_at = self._verifier.forget_at(command)
        forget_mono = self._verifier.forget_mono(command)

        def accept(tx: Transaction) -> None:
            tx.accept_command(command.id, forget_at, forget_mono)

        def remember(tx: Transaction) -> None:
            accept(tx)
            if self._via is not None:  # its reply, whenever the box writes it, says so
                remember_local(tx, command.id)

        # Storage short or unwritable: nothing new starts (docs/time-and-storage.md).
        short = self._storage.refusal() if self._storage else None
        if short is not None and COMMANDS[command.type].new_work:
            self._log.warning("command.rejected", command_id=command.id, code="busy", detail=short)
            self._reply(CommandRejected(RejectCode.BUSY, short, command.id), accept)
            return GateVerdict(command.id, command.type, RejectCode.BUSY, short)
        execute = self._handlers.get(command.type, self._box.execute)
        await execute(command, remember)
        return GateVerdict(command.id, command.type)

    def _reply(
        self, rejected: CommandRejected, remember: Callable[[Transaction], None] | None = None
    ) -> None:
        """The refusal's reply, durably: written after those still held, using the store's
        spare room if it must. A store that cannot take it at all (read-only, I/O error) is the
        guard's to report; the reply is held in memory and written first when writes work
        again (edge/box.py does the same with its records)."""
        self._held.append((rejected, remember))
        self._write_held()

    def _write_held(self) -> None:
        if not self._held:
            return
        held = list(self._held)

        def write() -> None:
            with self._store.transaction() as tx:
                for rejected, remember in held:
                    if remember is not None:
                        remember(tx)
                    reply = CommandReply.rejected(rejected, self._via)
                    tx.add_reply(reply.model_dump(mode="json"))

        if self._storage is None:
            self._held.clear()
            write()
        else:
            try:
                self._store.with_room(write)
            except StoreError as exc:
                self._storage.write_failed(exc)
                return
            del self._held[: len(held)]
        self._outbox_changed()
