"""The store's tables, versioned by `PRAGMA user_version`, and the migrations between versions.

To change the schema, append a migration to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from edge.store.errors import StoreSchemaError

Migration = Callable[[sqlite3.Connection], None]

RECORD_SEQ_COUNTER: Final = "record_seq"
EVENTS_DROPPED_COUNTER: Final = "events_dropped"


def _create_v1(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")
    # AUTOINCREMENT: an id is never reused, even after every item has been acked and deleted,
    # so a publisher's "after this id" cursor stays valid across acks and restarts.
    conn.execute(
        "CREATE TABLE outbox ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " topic TEXT NOT NULL,"
        " seq INTEGER UNIQUE,"  # a record's seq; NULL for replies
        " payload BLOB NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID"
    )
    conn.execute("INSERT INTO counters (name, value) VALUES (?, 0)", (RECORD_SEQ_COUNTER,))
    conn.execute(
        "CREATE TABLE commands (command_id TEXT PRIMARY KEY, expires_at REAL NOT NULL)"
        " WITHOUT ROWID"
    )
    conn.execute("CREATE INDEX commands_by_expiry ON commands (expires_at)")


def _durable_events_v2(conn: sqlite3.Connection) -> None:
    # The replay cache also forgets by the box's monotonic clock (NULL: by the wall clock only).
    conn.execute("ALTER TABLE commands ADD COLUMN forget_mono REAL")
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL)"
    )
    conn.execute("INSERT INTO counters (name, value) VALUES (?, 0)", (EVENTS_DROPPED_COUNTER,))


# MIGRATIONS[n] takes the schema from user_version n to n + 1, inside one transaction.
MIGRATIONS: Final[Sequence[Migration]] = (_create_v1, _durable_events_v2)
SCHEMA_VERSION: Final = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def check_version(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version; raises StoreSchemaError if this code cannot use it."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreSchemaError(
            f"store {path}: schema version {version} is newer than this agent knows"
            f" ({SCHEMA_VERSION}); it was written by a newer agent"
        )
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise StoreSchemaError(f"store {path}: holds tables but no schema version; not a store")
    return version


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file up to SCHEMA_VERSION, one committed step per version.

    Each step rereads the version under the write lock, so two processes opening one new
    file cannot both run a step; a crash mid-step leaves the previous version intact.
    """
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = check_version(conn, path)
            if version == SCHEMA_VERSION:
                conn.execute("COMMIT")
                return
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
