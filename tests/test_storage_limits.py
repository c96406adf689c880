"""Events durable and capped; `storage.max_mb`; a store that cannot write at all
(docs/time-and-storage.md)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.event_queue import StoredEvents
from edge.storage import StorageGuard
from edge.store import Store, StoreError, StoreFull
from edge.wire.fields import EventBody

CAR = "car-0001"
TS = "2026-11-23T18:14:27.123Z"


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def test_events_survive_a_restart_and_the_oldest_go_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db", CAR)
    queue = StoredEvents(store, keep=3, on_write_failed=lambda exc: None)
    for n in range(5):
        queue.push(f'{{"n":{n}}}'.encode())
    store.close()
    store = Store(tmp_path / "edge.db", CAR)  # the agent restarted
    assert [item.payload for item in store.events_pending()] == [b'{"n":2}', b'{"n":3}', b'{"n":4}']
    assert StoredEvents(store, 3, lambda exc: None).dropped == 2
    store.close()


def add_padded_record(store: Store, size: int) -> None:
    with store.transaction() as tx:
        tx.add_record("bank_in", {"pad": "x" * size}, ts=TS, clock_synced=True)


def fill_with_records(store: Store) -> int:
    written = 0
    while True:
        try:
            add_padded_record(store, 2000)
        except StoreFull:
            return written
        written += 1


def test_the_cap_refuses_new_work_before_records_run_out(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db", CAR, max_bytes=1024 * 1024)
    raised: list[EventBody] = []
    guard = StorageGuard(store, raised.append, _Quiet())
    assert guard.refusal() is None
    written = fill_with_records(store)
    assert written > 100  # records fill the cap, none evicted
    assert store.last_record_seq() == written
    refusal = guard.refusal()
    assert refusal is not None
    assert refusal.startswith("storage full")
    assert [e.event_type for e in raised] == ["storage_short"]
    # The broker takes the outbox: room again, and the box recovers by itself.
    store.outbox_ack_many([item.id for item in store.outbox_pending(limit=10_000)])
    guard.check()
    assert guard.refusal() is None
    assert [e.event_type for e in raised] == ["storage_short", "storage_recovered"]
    store.close()


def test_events_make_room_for_records(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db", CAR, max_bytes=512 * 1024)
    for _ in range(150):
        store.add_event(b"e" * 2000, keep=1000)
    fill_with_records(store)
    assert store.drop_events() > 0
    with store.transaction() as tx:
        tx.add_record("bank_in", {"slot": 1}, ts="2026-11-23T18:14:27.123Z", clock_synced=True)
    assert store.events_dropped() >= 150
    store.close()


@pytest.fixture
def small_mount(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "mnt"
    mount.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"this test needs root to mount a tmpfs: {exc}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_reported_and_recovered_by_itself(small_mount: Path) -> None:
    store = Store(small_mount / "edge.db", CAR)
    raised: list[EventBody] = []
    guard = StorageGuard(store, raised.append, _Quiet())
    ballast = small_mount / "ballast"
    with ballast.open("wb") as file, contextlib.suppress(OSError):
        while True:
            file.write(b"\0" * 65536)
            file.flush()
    failure = None
    for _ in range(1000):
        try:
            add_padded_record(store, 4000)
        except StoreError as exc:
            failure = exc
            break
    assert failure is not None
    guard.write_failed(failure)
    assert (guard.refusal() or "").startswith("storage: the store cannot be written")
    ballast.unlink()  # space returns
    with store.transaction() as tx:
        tx.put_state("k", 1)
    guard.wrote()
    assert guard.refusal() is None
    assert [e.event_type for e in raised] == ["storage_unwritable", "storage_recovered"]
    store.close()


def add_reply(store: Store, n: int) -> None:
    with store.transaction() as tx:
        tx.add_reply({"command_id": f"c{n}", "status": "rejected", "code": "busy"})


def test_a_full_disk_leaves_the_spare_room_to_records_and_replies(small_mount: Path) -> None:
    store = Store(small_mount / "edge.db", CAR)
    made: list[str] = []
    store.room_made = made.append
    ballast = small_mount / "ballast"
    with ballast.open("wb", buffering=0) as file, contextlib.suppress(OSError):
        while True:
            file.write(b"\0" * 4096)
    with contextlib.suppress(StoreFull):
        for n in range(1000):
            add_reply(store, n)  # until an ordinary write finds no room
    written = store.outbox_depth()
    assert written < 1000
    for n in range(5):  # a write that must be made takes the spare room
        store.with_room(lambda n=n: add_reply(store, 1000 + n))
    assert made == ["spare"]
    assert store.outbox_depth() == written + 5
    assert store.space().short  # no new work until the spare is back
    assert not store.restore_spare()  # no room for it yet
    ballast.unlink()
    assert store.restore_spare()
    assert not store.space().short
    store.close()


def test_the_cap_lifts_by_the_spare_room_for_records(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db", CAR, max_bytes=512 * 1024)
    written = fill_with_records(store)
    store.with_room(lambda: add_padded_record(store, 2000))
    assert store.last_record_seq() == written + 1
    assert store.space().short
    store.outbox_ack_many([item.id for item in store.outbox_pending(limit=10_000)])
    assert store.restore_spare()
    assert not store.space().short
    store.close()
