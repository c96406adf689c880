"""What can go wrong with the durable store, each failure named for what was wrong."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StoreError(Exception):
    """The store failed; the failed write, if any, was rolled back."""


class StoreNotWritable(StoreError):
    """The store's file or its directory cannot be opened, created or written."""


class StoreFull(StoreError):
    """The store reached `storage.max_mb`, or its filesystem is full (SQLITE_FULL)."""


class StoreNotFound(StoreError):
    """A read-only open of a store file that does not exist."""


class StoreCorrupt(StoreError):
    """The file is not a SQLite database, or SQLite found it damaged."""


class StoreSchemaError(StoreError):
    """The file holds another program's tables or a schema this code does not know."""


class StoreValueError(StoreError, ValueError):
    """A value the store cannot keep: not JSON, or a record field that shadows a common one."""


_NOT_WRITABLE_CODES = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
)
_CORRUPT_CODES = frozenset({sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT})


def translate(exc: sqlite3.Error, path: Path, action: str) -> StoreError:
    """The store's exception for a sqlite3 error met while doing `action`; chain it with `from`."""
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", None)
    primary = code & 0xFF if code is not None else None
    detail = f"{exc} ({name})" if name else str(exc)
    message = f"store {path}: cannot {action}: {detail}"
    if primary in _NOT_WRITABLE_CODES:
        return StoreNotWritable(message)
    if primary in _CORRUPT_CODES:
        return StoreCorrupt(message)
    if primary == sqlite3.SQLITE_FULL:
        return StoreFull(message)
    return StoreError(message)
