"""The store's room and health as the box acts on them (docs/time-and-storage.md).

`storage.max_mb` caps the store (SQLite's max_page_count; the filesystem's free space caps it
too). Telemetry is never stored; events are dropped before records; records are never evicted.
Once the room left is within the reserve (10 % of the cap, at least 64 KiB), once the store's
spare room (edge/store/spare.py) has been given up to records and replies, or when the store
cannot be written at all (full, read-only, I/O error), the box starts no new rental, reservation
or session (`busy`, the detail says why) while everything already running goes on and writes its
records into the reserve. It recovers by itself when a write succeeds and there is room again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Final, Literal

from pydantic import Field

from edge.store import RoomMade, Store, StoreError, StoreFull
from edge.wire.fields import EventBody

StorageState = Literal["ok", "short", "unwritable"]
MIB: Final = 1024 * 1024


class StorageShort(EventBody):
    """The store has no room left beyond its reserve: no new rental, reservation or session
    starts until there is (what is running goes on)."""

    event_type: ClassVar[str] = "storage_short"
    fault: ClassVar[bool] = True

    used_mb: float = Field(description="MiB the store uses.")
    limit_mb: float = Field(description="The most it may use: storage.max_mb or the disk.")


class StorageUnwritable(EventBody):
    """The store could not be written (full, read-only filesystem, I/O error): no new rental,
    reservation or session; actuators are not moved for anything that is not durable first."""

    event_type: ClassVar[str] = "storage_unwritable"
    fault: ClassVar[bool] = True

    error: str = Field(description="What the store said.")


class StorageRecovered(EventBody):
    """The store can be written and has room again: new work is accepted."""

    event_type: ClassVar[str] = "storage_recovered"
    fault: ClassVar[bool] = False


EVENTS: tuple[type[EventBody], ...] = (StorageShort, StorageUnwritable, StorageRecovered)


class StorageGuard:
    """Says whether new work may start, and raises the storage events as that changes.

    `write_failed(exc)` is told of every write the box could not make, `wrote()` of the
    housekeeping's writes that worked; `check()` looks at the room left; `on_writable` callbacks
    run when writes work again (the box then writes what it holds)."""

    def __init__(self, store: Store, raise_event: Callable[[EventBody], None], logger: Any):
        self._store = store
        self._raise_event = raise_event
        self._log = logger
        self._error: str | None = None
        self._short = False
        self.on_writable: list[Callable[[], None]] = []

    @property
    def state(self) -> StorageState:
        if self._error is not None:
            return "unwritable"
        return "short" if self._short else "ok"

    def refusal(self) -> str | None:
        """Why no new rental, reservation or session may start now; None when it may."""
        if self._error is not None:
            return f"storage: the store cannot be written ({self._error})"[:200]
        self._look()
        if self._short:
            space = self._store.space()
            if space.spare_used:
                return (
                    f"storage full: {_size(space.used_bytes)} used, the room kept back for the"
                    " records of what is running is in use"
                )
            return (
                f"storage full: {_size(space.used_bytes)} of {_size(space.limit_bytes)} used,"
                " the rest is kept for the records of what is running"
            )
        return None

    def made_room(self, made: RoomMade) -> None:
        """A write that had to be made found no room, and `made` was freed for it."""
        if made == "events":
            self._log.warning("storage.events_dropped_for_records")
        else:
            self._log.warning("storage.spare_used")
        self.check()

    def write_failed(self, exc: StoreError) -> None:
        error = str(exc)
        if isinstance(exc, StoreFull):
            error = "store full: " + error
        first = self._error is None
        self._error = error
        if first:
            self._log.error("storage.unwritable", error=error)
            self._raise_event(StorageUnwritable(error=error[:300]))

    def wrote(self) -> None:
        """A write succeeded (the housekeeping's heartbeat)."""
        if self._error is None:
            return
        self._error = None
        self._log.info("storage.writable")
        for callback in self.on_writable:
            callback()
        self._look()
        if not self._short:
            self._recovered()

    def check(self) -> None:
        if self._error is None:
            self._look()

    def _look(self) -> None:
        try:
            self._store.restore_spare()
            space = self._store.space()
        except StoreError:
            return
        if space.short and not self._short:
            self._short = True
            self._log.warning(
                "storage.short", used_bytes=space.used_bytes, limit_bytes=space.limit_bytes
            )
            self._raise_event(
                StorageShort(
                    used_mb=round(space.used_bytes / MIB, 3),
                    limit_mb=round(space.limit_bytes / MIB, 3),
                )
            )
        elif self._short and not space.short:
            self._short = False
            self._recovered()

    def _recovered(self) -> None:
        self._log.info("storage.recovered")
        self._raise_event(StorageRecovered())


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n / 1024:.0f} KiB"
