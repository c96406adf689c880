"""Opening the store's SQLite file, and running statements with the store's own errors."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from edge.store.errors import StoreNotFound, StoreNotWritable, StoreSchemaError, translate
from edge.store.schema import SCHEMA_VERSION, check_version, migrate

# How long to wait for another connection's write lock. The agent is the only writer and
# the operator's read-only connections never take that lock, so a wait means a second
# agent on the same file.
BUSY_TIMEOUT_S: Final = 2.0

Params = tuple[Any, ...]


class Database:
    """One sqlite3 connection whose errors surface as StoreError subclasses."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise translate(exc, self.path, action) from exc

    def fetchone(self, action: str, sql: str, params: Params = ()) -> Any:
        with self.errors(action):
            return self.conn.execute(sql, params).fetchone()

    def fetchall(self, action: str, sql: str, params: Params = ()) -> list[Any]:
        with self.errors(action):
            return self.conn.execute(sql, params).fetchall()

    def execute(self, action: str, sql: str, params: Params = ()) -> int:
        """Runs one statement; the number of rows it changed."""
        with self.errors(action):
            return self.conn.execute(sql, params).rowcount

    def rollback(self) -> None:
        """Ends the open transaction, if SQLite has not already ended it after a failure."""
        if self.conn.in_transaction:
            self.execute("roll back", "ROLLBACK")

    def close(self) -> None:
        with self.errors("close"):
            self.conn.close()


def _refuse_unwritable(path: Path) -> None:
    """Names what is wrong before SQLite can only say "unable to open database file"."""
    directory = path.parent
    if not directory.exists():
        raise StoreNotWritable(f"store {path}: directory {directory} does not exist")
    if not directory.is_dir():
        raise StoreNotWritable(f"store {path}: {directory} is not a directory")
    if path.is_dir():
        raise StoreNotWritable(f"store {path} is a directory, not a file")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StoreNotWritable(
            f"store {path}: directory {directory} is not writable"
            " (SQLite keeps its -wal and -shm files beside the store)"
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreNotWritable(f"store {path} is not readable and writable by this user")


def open_writable(path: Path) -> Database:
    """Opens or creates the store in WAL mode with synchronous=FULL, migrated to SCHEMA_VERSION.

    A file left by a killed process (with its -wal and -shm files) is recovered by SQLite
    on open: committed transactions are kept, the unfinished one is gone.
    """
    _refuse_unwritable(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise translate(exc, path, "open for writing") from exc
    db = Database(conn, path)
    try:
        with db.errors("open for writing"):
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StoreNotWritable(
                    f"store {path}: SQLite cannot use WAL mode here (journal mode {mode!r})"
                )
            # FULL: a commit is on disk (WAL fsynced) when COMMIT returns.
            conn.execute("PRAGMA synchronous=FULL")
            migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return db


def open_readonly(path: Path) -> Database:
    """Opens an existing store through a `mode=ro` URI; this connection never writes it.

    SQLite may still create the -wal and -shm files beside the store if the writer is not
    running and the directory allows it; the database itself is never changed.
    """
    if not path.is_file():
        raise StoreNotFound(f"store {path} does not exist")
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise translate(exc, path, "open read-only") from exc
    db = Database(conn, path)
    try:
        with db.errors("open read-only"):
            conn.execute("PRAGMA query_only=ON")
            version = check_version(conn, path)
            if version != SCHEMA_VERSION:
                raise StoreSchemaError(
                    f"store {path}: schema version {version}, this code reads"
                    f" {SCHEMA_VERSION}; start the agent once to migrate it"
                )
    except BaseException:
        conn.close()
        raise
    return db
