"""Which accepted commands came through a local channel, so that their replies say so.

A reply to a command that came through a local channel carries `"via": "local"` (contract 1.1,
sections 2 and 3). The box may reply long after it accepted the command (a lock confirmed on
the bus, a restart in between), so the ids of such commands are kept in the store, committed
in the transaction that accepts the command, and dropped when the reply is written.
"""

from __future__ import annotations

from typing import Final

from pydantic import JsonValue

from edge.commands.reply import Via
from edge.store import Transaction

LOCAL_COMMANDS_KEY: Final = "commands.local"
KEEP: Final = 64  # more local commands than this awaiting their reply at once: never seen


def remember_local(tx: Transaction, command_id: str) -> None:
    """`command_id` came through a local channel; part of the transaction that accepts it."""
    ids = _local_ids(tx)
    tx.put_state(LOCAL_COMMANDS_KEY, [*ids[-(KEEP - 1) :], command_id])


def reply_via(tx: Transaction, command_id: str | None) -> Via | None:
    """The `via` of the reply to `command_id` written in this transaction: "local" for a
    command that came through a local channel (forgotten with this reply), else None."""
    ids = _local_ids(tx)
    if command_id is None or command_id not in ids:
        return None
    left: list[JsonValue] = [item for item in ids if item != command_id]
    if left:
        tx.put_state(LOCAL_COMMANDS_KEY, left)
    else:
        tx.delete_state(LOCAL_COMMANDS_KEY)
    return "local"


def _local_ids(tx: Transaction) -> list[str]:
    saved = tx.get_state(LOCAL_COMMANDS_KEY)
    if not isinstance(saved, list):
        return []
    return [item for item in saved if isinstance(item, str)]
