"""What every pure box controller shares: its outbox of intents, its replies, its snapshot.

A kind's controller subclasses `ControllerBase`; its sub-machines append to the same `_outbox`
list, the kind's hardware intents being `edge.intents.HardwareIntent`s. Snapshots are pydantic
models (`Snapshot`) that the store writes as JSON; `restore_snapshot` reads one back or raises
SnapshotError.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from edge.commands.reply import FailureCode, RejectCode
from edge.intents import Intent, RaiseEvent, Reply, WriteRecord
from edge.wire.fields import EventBody, RecordBody, ReplyResult


class SnapshotError(ValueError):
    """A snapshot a controller cannot be restored from."""


class Snapshot(BaseModel):
    """A controller's durable state, as the store keeps it (JSON). Every kind's snapshot has a
    `version`; one of another version is refused, never guessed at."""

    model_config = ConfigDict(extra="forbid")

    version: int


class SnapshotPart(BaseModel):
    """A part of a snapshot (one machine's state)."""

    model_config = ConfigDict(extra="forbid")


S = TypeVar("S", bound=Snapshot)


def restore_snapshot(model: type[S], saved: JsonValue, version: int, kind: str) -> S:
    """`saved` (the store's JSON) as `model`, or SnapshotError naming what is wrong."""
    found = saved.get("version") if isinstance(saved, dict) else None
    if found != version:
        raise SnapshotError(f"snapshot version {found!r} is not supported")
    try:
        return model.model_validate(saved)
    except ValidationError as error:
        raise SnapshotError(f"malformed {kind} snapshot: {error}") from error


T = TypeVar("T")


class Memo(Generic[T]):
    """The value last built from some inputs, built again only when they change: a controller's
    snapshot or view comes back as the very same object while nothing in it changed, which the
    box then recognises by identity (no dump, no comparison)."""

    def __init__(self) -> None:
        self._memo: tuple[tuple[Hashable, ...], T] | None = None

    def get(self, inputs: tuple[Hashable, ...], build: Callable[[], T]) -> T:
        memo = self._memo
        if memo is not None and memo[0] == inputs:
            return memo[1]
        value = build()
        self._memo = (inputs, value)
        return value


class ControllerBase:
    """The outbox a pure controller fills while it handles one input, and the reply helpers."""

    def __init__(self) -> None:
        self._outbox: list[Intent] = []

    def _take_outbox(self) -> list[Intent]:
        intents = self._outbox.copy()
        self._outbox.clear()
        return intents

    def _ok(self, command_id: str, result: ReplyResult | RecordBody | None = None) -> None:
        self._outbox.append(Reply(command_id, "ok", result=result))

    def _reject(
        self,
        command_id: str,
        code: RejectCode,
        detail: str,
        result: ReplyResult | None = None,
    ) -> None:
        self._outbox.append(Reply(command_id, "rejected", code, detail, result))

    def _fail(
        self,
        command_id: str,
        code: FailureCode,
        detail: str,
        result: ReplyResult | None = None,
    ) -> None:
        self._outbox.append(Reply(command_id, "failed", code, detail, result))

    def _record(self, record: RecordBody, synced: bool = True) -> None:
        """`synced`: the record's earlier wall-clock times were all taken on a synced clock."""
        self._outbox.append(WriteRecord(record, synced))

    def _event(self, event: EventBody) -> None:
        self._outbox.append(RaiseEvent(event))
