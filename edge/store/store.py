"""The store's public face: reads, the write transaction, and the read-only view."""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar

from pydantic import BaseModel, JsonValue

from edge.store.connection import Database, open_readonly, open_writable
from edge.store.errors import StoreError, StoreFull, StoreValueError
from edge.store.schema import EVENTS_DROPPED_COUNTER, RECORD_SEQ_COUNTER
from edge.store.spare import SPARE_BYTES, SpareRoom

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

# Below this much room under `storage.max_mb` the box starts no new rental, reservation or
# session: what is left is for the records of those already running.
RESERVE_FRACTION: Final = 0.1
RESERVE_MIN_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class StoreSpace:
    """How full the store is: bytes in use and the most it may use (the cap or the disk), and
    whether its spare room (edge/store/spare.py) has been given up to records and replies."""

    used_bytes: int
    limit_bytes: int
    spare_used: bool = False

    @property
    def reserve_bytes(self) -> int:
        return max(RESERVE_MIN_BYTES, int(self.limit_bytes * RESERVE_FRACTION))

    @property
    def short(self) -> bool:
        """Into the reserve: room only for the records of what is already running."""
        return self.spare_used or self.limit_bytes - self.used_bytes < self.reserve_bytes


# What `Store.make_room` freed: the stored events, or the spare room.
RoomMade = Literal["events", "spare"]
T = TypeVar("T")


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

    def events_pending(self, after_id: int = 0, limit: int = 100) -> list[OutboxItem]:
        """Up to `limit` stored events with id > after_id, oldest first (topic "events")."""
        rows = self._db.fetchall(
            "read the events",
            "SELECT id, payload FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [OutboxItem(id=row[0], topic="events", payload=row[1]) for row in rows]

    def events_dropped(self) -> int:
        """Events dropped to respect the cap or to make room for records, ever."""
        row = self._db.fetchone(
            "read the events counter",
            "SELECT value FROM counters WHERE name = ?",
            (EVENTS_DROPPED_COUNTER,),
        )
        return 0 if row is None else int(row[0])

    def space(self) -> StoreSpace:
        """Bytes in use (free pages excluded) and the most the store may use."""
        return self._space(None)

    def _space(self, max_pages: int | None) -> StoreSpace:
        """As `space`, under the page cap `max_pages` (None: the connection's)."""
        page_size = self._db.fetchone("read the page size", "PRAGMA page_size")[0]
        pages = self._db.fetchone("read the page count", "PRAGMA page_count")[0]
        free = self._db.fetchone("read the free pages", "PRAGMA freelist_count")[0]
        if max_pages is None:
            max_pages = self._db.fetchone("read the page cap", "PRAGMA max_page_count")[0]
        limit = max_pages * page_size
        with contextlib.suppress(OSError):
            disk = os.statvfs(self.path.parent)
            limit = min(limit, pages * page_size + disk.f_bavail * disk.f_frsize)
        return StoreSpace(used_bytes=(pages - free) * page_size, limit_bytes=limit)

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

    def __init__(
        self, path: str | os.PathLike[str], device_id: str, max_bytes: int | None = None
    ) -> None:
        super().__init__(open_writable(Path(path)))
        self.device_id = device_id
        self._open_transaction: Transaction | None = None
        self.before_commit: Callable[[Transaction], None] | None = None
        """Runs last inside every transaction (the agent keeps the clock's checkpoint there)."""
        self.room_made: Callable[[RoomMade], None] | None = None
        """Told what `make_room` freed (the agent's storage guard)."""
        self._page_size: int = self._db.fetchone("read the page size", "PRAGMA page_size")[0]
        self._max_pages: int | None = (
            None if max_bytes is None else max(1, max_bytes // self._page_size)
        )
        self._spare = SpareRoom(self.path)
        self._spare_used = not self._spare.restore()
        self._set_cap(self._max_pages if not self._spare_used else self._lifted_cap())

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
            if self.before_commit is not None:
                self.before_commit(transaction)
            transaction._finish()
            self._db.execute("commit", "COMMIT")
        except BaseException:
            transaction._finish()
            self._db.rollback()
            raise
        finally:
            self._open_transaction = None

    def space(self) -> StoreSpace:
        return replace(self._space(self._max_pages), spare_used=self._spare_used)

    def with_room(self, write: Callable[[], T]) -> T:
        """Runs `write` (its own transactions); when it fails for want of room, makes room
        (`make_room`, told to `room_made`) and runs it again, until nothing more can go. For the
        writes that must not wait: records, replies, and the deletion of acknowledged items."""
        while True:
            try:
                return write()
            except StoreFull:
                made = self.make_room()
                if not made:
                    raise
                for room in made:
                    if self.room_made is not None:
                        self.room_made(room)

    def make_room(self) -> list[RoomMade]:
        """After a write failed for want of room: drops the stored events (counted) or, when
        that cannot be done or there are none, gives the spare room up (the disk space it held,
        and as many pages beyond the cap) and then drops the events; what it freed, empty when
        nothing was left to free."""
        self._refuse_inside_transaction("make room")
        with contextlib.suppress(StoreFull):  # the deletion itself may need the spare room
            if self.drop_events():
                return ["events"]
        if self._spare_used:
            return []
        self._spare_used = True
        self._spare.release()
        self._set_cap(self._lifted_cap())
        # The write-ahead log's frames go into the file, and its blocks are written again from
        # the start rather than grown: commits take no more disk than they add to the store.
        with contextlib.suppress(StoreError):
            self._db.fetchone("checkpoint", "PRAGMA wal_checkpoint(RESTART)")
        with contextlib.suppress(StoreError):
            if self.drop_events():
                return ["spare", "events"]
        return ["spare"]

    def restore_spare(self) -> bool:
        """Takes the spare room back once the store is out of its reserve and the disk has room
        for the spare file; True when the spare is held (new work may start again)."""
        if not self._spare_used:
            return True
        self._spare_used = False
        if self.space().short or not self._spare.restore():
            self._spare_used = True
            return False
        self._set_cap(self._max_pages)
        return True

    def _lifted_cap(self) -> int | None:
        if self._max_pages is None:
            return None
        return self._max_pages + SPARE_BYTES // self._page_size

    def _set_cap(self, max_pages: int | None) -> None:
        # SQLite never sets the cap below the pages the file already has.
        if max_pages is not None:
            self._db.fetchone("cap the store", f"PRAGMA max_page_count = {max_pages}")

    def outbox_ack(self, item_id: int) -> None:
        """Deletes an item after the broker's PUBACK; an unknown id is a no-op."""
        self._refuse_inside_transaction("ack an outbox item")
        self.outbox_ack_many([item_id])

    def outbox_ack_many(self, item_ids: Sequence[int], synced_at: str | None = None) -> None:
        """Deletes acknowledged items in one commit (one fsync for a whole batch of PUBACKs);
        with `synced_at`, remembers it as the last successful sync (`status` shows it). It may
        use the spare room: what it deletes makes room for the next records."""

        def delete() -> None:
            with self.transaction() as tx:
                tx.delete_outbox_items(item_ids)
                if synced_at is not None:
                    tx.put_state(SYNC_STATE_KEY, {"last_ack_at": synced_at})

        self.with_room(delete)

    def purge_expired_commands(self, now_epoch: float, now_mono: float | None = None) -> int:
        """Forgets command ids expired both by the wall clock (`expires_at` before `now_epoch`)
        and by the box's monotonic clock (`forget_mono` before `now_mono`; an id remembered
        without one goes by the wall clock alone); how many were forgotten."""
        self._refuse_inside_transaction("purge the replay cache")
        mono = -math.inf if now_mono is None else now_mono
        return self._db.execute(
            "purge the replay cache",
            "DELETE FROM commands WHERE expires_at < ?"
            " AND (forget_mono IS NULL OR forget_mono < ?)",
            (now_epoch, mono),
        )

    def add_event(self, payload: bytes, keep: int) -> int:
        """Stores an event for the `events` topic in its own commit, keeping at most `keep`
        (the oldest go first, counted); how many were dropped."""
        with self.transaction() as tx:
            tx._write("store an event", "INSERT INTO events (payload) VALUES (?)", (payload,))
            return tx.drop_events(keep)

    def delete_events(self, event_ids: Sequence[int]) -> None:
        """Forgets events the broker acknowledged, in one commit."""
        with self.transaction() as tx:
            for start in range(0, len(event_ids), _ACK_BATCH):
                batch = tuple(event_ids[start : start + _ACK_BATCH])
                marks = ",".join("?" * len(batch))
                tx._write("forget events", f"DELETE FROM events WHERE id IN ({marks})", batch)

    def drop_events(self, keep: int = 0) -> int:
        """Drops the oldest stored events down to `keep` (counted), to make room for records;
        how many were dropped."""
        self._refuse_inside_transaction("drop events")
        with self.transaction() as tx:
            return tx.drop_events(keep)

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

    def accept_command(
        self, command_id: str, expires_at_epoch: float, forget_mono: float | None = None
    ) -> bool:
        """Remembers a command id until `expires_at_epoch` by the wall clock and, with
        `forget_mono`, until then by the box's monotonic clock too (whichever is later); False
        when it is already remembered (a replay). Pass the last instant the expiry check still
        lets the command through (its expires_at plus the allowed clock skew), so the id
        outlives every valid replay."""
        for value in (expires_at_epoch, 0.0 if forget_mono is None else forget_mono):
            if not math.isfinite(value):
                raise StoreValueError(f"command {command_id!r}: expiry {value} is not finite")
        changed = self._write(
            "remember a command id",
            "INSERT OR IGNORE INTO commands (command_id, expires_at, forget_mono) VALUES (?, ?, ?)",
            (command_id, expires_at_epoch, forget_mono),
        )
        return changed == 1

    def drop_events(self, keep: int) -> int:
        """Drops the oldest stored events beyond `keep`, counted; how many were dropped."""
        dropped = self._write(
            "drop events",
            "DELETE FROM events WHERE id NOT IN (SELECT id FROM events ORDER BY id DESC LIMIT ?)",
            (max(0, keep),),
        )
        if dropped:
            self._write(
                "count dropped events",
                "UPDATE counters SET value = value + ? WHERE name = ?",
                (dropped, EVENTS_DROPPED_COUNTER),
            )
        return dropped

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
            # Of the failure's own class: a full store stays a StoreFull.
            raise type(failed)(f"transaction rolled back after an error: {failed}") from failed
