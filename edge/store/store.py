"""The store's public face: reads, the write transaction, and the read-only view."""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

from pydantic import BaseModel, JsonValue

from edge.store.connection import Database, open_readonly, open_writable
from edge.store.errors import StoreError, StoreValueError
from edge.store.schema import RECORD_SEQ_COUNTER

RECORDS_TOPIC: Final = "records"
REPLIES_TOPIC: Final = "replies"
SYNC_STATE_KEY: Final = "sync"  # {"last_ack_at"}: when the broker last acknowledged an item
_ACK_BATCH: Final = 500  # SQLite allows at least 999 bound parameters
RECORD_COMMON_FIELDS: Final = frozenset(
    {"record_id", "seq", "device_id", "type", "ts", "clock_synced"}
)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int  # outbox order, strictly increasing, never reused
    topic: str  # topic suffix: "records" or "replies"
    payload: bytes  # UTF-8 JSON, exactly what is published


JsonFields = Mapping[str, JsonValue]


def _to_json(value: BaseModel | JsonValue, what: str) -> bytes:
    """Compact UTF-8 JSON; raises before anything is written (a lone surrogate fails here)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode()
    except (TypeError, ValueError) as exc:
        raise StoreValueError(f"{what} is not JSON-serialisable: {exc}") from exc


def _read_state(db: Database, key: str) -> JsonValue:
    row = db.fetchone("read state", "SELECT value FROM state WHERE key = ?", (key,))
    if row is None:
        return None
    value: JsonValue = json.loads(row[0])
    return value


def _last_record_seq(db: Database) -> int:
    row = db.fetchone(
        "read the record seq", "SELECT value FROM counters WHERE name = ?", (RECORD_SEQ_COUNTER,)
    )
    seq: int = row[0]
    return seq


class StoreReader:
    """Reads of the store. `Store.open_readonly` gives one that never writes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def path(self) -> Path:
        return self._db.path

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def get_state(self, key: str) -> JsonValue:
        """The JSON value under `key`, or None when there is none."""
        return _read_state(self._db, key)

    def outbox_pending(self, after_id: int = 0, limit: int = 100) -> list[OutboxItem]:
        """Up to `limit` items with id > after_id, in publishing order."""
        rows = self._db.fetchall(
            "read the outbox",
            "SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [OutboxItem(id=row[0], topic=row[1], payload=row[2]) for row in rows]

    def outbox_depth(self) -> int:
        depth: int = self._db.fetchone("count the outbox", "SELECT count(*) FROM outbox")[0]
        return depth

    def outbox_depth_by_topic(self) -> dict[str, int]:
        rows = self._db.fetchall(
            "count the outbox", "SELECT topic, count(*) FROM outbox GROUP BY topic", ()
        )
        return {row[0]: row[1] for row in rows}

    def last_record_seq(self) -> int:
        """The seq of the last record written (acked or not); 0 when none yet."""
        return _last_record_seq(self._db)

    def command_seen(self, command_id: str) -> bool:
        row = self._db.fetchone(
            "read the replay cache", "SELECT 1 FROM commands WHERE command_id = ?", (command_id,)
        )
        return row is not None


class Store(StoreReader):
    """The agent's durable store: state journal, outbox and replay cache in one SQLite file.

    Every state transition is committed before the action it allows: write the state, the
    records and the replies in one `transaction()`, then act once the block has returned.

    Synchronous and not thread-safe: a Store belongs to the thread that opened it (the
    asyncio loop thread; sqlite3 refuses calls from other threads). Each commit is one
    small fsync.
    """

    def __init__(self, path: str | os.PathLike[str], device_id: str) -> None:
        super().__init__(open_writable(Path(path)))
        self.device_id = device_id
        self._open_transaction: Transaction | None = None

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str]) -> StoreReader:
        """A reader of an existing store, safe beside the running agent (e.g. for `status`)."""
        return StoreReader(open_readonly(Path(path)))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """BEGIN IMMEDIATE; COMMIT on a clean exit, durable on return; ROLLBACK on exception."""
        self._refuse_inside_transaction("open a transaction")
        self._db.execute("begin a transaction", "BEGIN IMMEDIATE")
        transaction = Transaction(self._db, self.device_id)
        self._open_transaction = transaction
        try:
            yield transaction
            transaction._finish()
            self._db.execute("commit", "COMMIT")
        except BaseException:
            transaction._finish()
            self._db.rollback()
            raise
        finally:
            self._open_transaction = None

    def outbox_ack(self, item_id: int) -> None:
        """Deletes an item after the broker's PUBACK; an unknown id is a no-op."""
        self._refuse_inside_transaction("ack an outbox item")
        self.outbox_ack_many([item_id])

    def outbox_ack_many(self, item_ids: Sequence[int], synced_at: str | None = None) -> None:
        """Deletes acknowledged items in one commit (one fsync for a whole batch of PUBACKs);
        with `synced_at`, remembers it as the last successful sync (`status` shows it)."""
        with self.transaction() as tx:
            tx.delete_outbox_items(item_ids)
            if synced_at is not None:
                tx.put_state(SYNC_STATE_KEY, {"last_ack_at": synced_at})

    def purge_expired_commands(self, now_epoch: float) -> int:
        """Forgets command ids whose expiry is before `now_epoch`; how many were forgotten."""
        self._refuse_inside_transaction("purge the replay cache")
        return self._db.execute(
            "purge the replay cache", "DELETE FROM commands WHERE expires_at < ?", (now_epoch,)
        )

    def _refuse_inside_transaction(self, action: str) -> None:
        # A statement run now would silently join (and share the fate of) the open transaction.
        if self._open_transaction is not None:
            raise StoreError(f"store {self.path}: cannot {action} while a transaction is open")


class Transaction:
    """The writes of one `Store.transaction()` block; unusable once the block has ended.

    A database error inside the block fails the whole transaction: it is rolled back at
    the end of the block even if the caller caught the error, so a record seq is never
    consumed without its record.
    """

    def __init__(self, db: Database, device_id: str) -> None:
        self._db: Database | None = db
        self._device_id = device_id
        self._failed: StoreError | None = None

    def get_state(self, key: str) -> JsonValue:
        """The JSON value under `key` as this transaction sees it, or None."""
        return _read_state(self._live(), key)

    def put_state(self, key: str, value: BaseModel | JsonValue) -> None:
        """Keeps `value` (a model is kept as its JSON) under `key`."""
        text = _to_json(value, f"state {key!r}").decode()
        self._write(
            "write state", "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, text)
        )

    def delete_state(self, key: str) -> None:
        self._write("delete state", "DELETE FROM state WHERE key = ?", (key,))

    def add_record(
        self, record_type: str, body: BaseModel | JsonFields, *, ts: str, clock_synced: bool
    ) -> dict[str, JsonValue]:
        """Appends a record (its own fields `body`) with the next seq and a new record_id to
        the outbox; returns it exactly as it will be published."""
        fields = body.model_dump(mode="json") if isinstance(body, BaseModel) else dict(body)
        shadowed = sorted(RECORD_COMMON_FIELDS.intersection(fields))
        if shadowed:
            raise StoreValueError(
                f"record {record_type!r}: fields {shadowed} would replace the common fields"
            )
        seq = _last_record_seq(self._live()) + 1
        record = {
            "record_id": str(uuid.uuid4()),
            "seq": seq,
            "device_id": self._device_id,
            "type": record_type,
            "ts": ts,
            "clock_synced": clock_synced,
            **fields,
        }
        payload = _to_json(record, f"record {record_type!r}")
        self._write(
            "advance the record seq",
            "UPDATE counters SET value = ? WHERE name = ?",
            (seq, RECORD_SEQ_COUNTER),
        )
        self._append(RECORDS_TOPIC, payload, seq)
        published: dict[str, JsonValue] = json.loads(payload)
        return published

    def add_reply(self, reply: BaseModel | JsonFields) -> None:
        """Appends a reply (edge.commands.CommandReply) to the outbox; replies take no seq."""
        payload = reply if isinstance(reply, BaseModel) else dict(reply)
        self._append(REPLIES_TOPIC, _to_json(payload, "reply"), None)

    def delete_outbox_items(self, item_ids: Sequence[int]) -> None:
        for start in range(0, len(item_ids), _ACK_BATCH):
            batch = tuple(item_ids[start : start + _ACK_BATCH])
            marks = ",".join("?" * len(batch))
            self._write("ack outbox items", f"DELETE FROM outbox WHERE id IN ({marks})", batch)

    def accept_command(self, command_id: str, expires_at_epoch: float) -> bool:
        """Remembers a command id until `expires_at_epoch`; False when it is already remembered
        (a replay). Pass the last instant the expiry check still lets the command through
        (its expires_at plus the allowed clock skew), so the id outlives every valid replay."""
        if not math.isfinite(expires_at_epoch):
            raise StoreValueError(
                f"command {command_id!r}: expiry {expires_at_epoch} is not finite"
            )
        changed = self._write(
            "remember a command id",
            "INSERT OR IGNORE INTO commands (command_id, expires_at) VALUES (?, ?)",
            (command_id, expires_at_epoch),
        )
        return changed == 1

    def _append(self, topic: str, payload: bytes, seq: int | None) -> None:
        self._write(
            "append to the outbox",
            "INSERT INTO outbox (topic, seq, payload) VALUES (?, ?, ?)",
            (topic, seq, payload),
        )

    def _write(self, action: str, sql: str, params: tuple[Any, ...]) -> int:
        db = self._live()
        try:
            return db.execute(action, sql, params)
        except StoreError as exc:
            self._failed = exc
            raise

    def _live(self) -> Database:
        if self._db is None:
            raise StoreError("this transaction has ended; open a new one")
        if self._failed is not None:
            raise StoreError(f"this transaction failed and will be rolled back: {self._failed}")
        return self._db

    def _finish(self) -> None:
        """Ends the transaction's life; raises if it failed, so the store rolls it back."""
        failed, self._failed, self._db = self._failed, None, None
        if failed is not None:
            raise StoreError(f"transaction rolled back after an error: {failed}") from failed
