"""The power-cut filesystem (testbed/powercut) keeps exactly what was fsynced: a file's bytes by
fsync or fdatasync of the file, its name by fsync of its directory. SQLite in WAL mode with
synchronous=FULL (the store's settings) keeps every committed transaction through any cut."""

from __future__ import annotations

import errno
import os
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from testbed.powercut import PowerCutMount


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[PowerCutMount]:
    mount = PowerCutMount(tmp_path)
    try:
        yield mount
    finally:
        mount.stop()
    assert not os.path.ismount(mount.mountpoint)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(path: Path, data: bytes, *, sync: bool = False, datasync: bool = False) -> None:
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        if sync:
            os.fsync(file.fileno())
        if datasync:
            os.fdatasync(file.fileno())


def test_the_mount_is_real_fuse(disk: PowerCutMount) -> None:
    assert os.path.ismount(disk.mountpoint)
    mounts = Path("/proc/mounts").read_text()
    assert f" {disk.mountpoint} fuse" in mounts


def test_a_cut_loses_what_was_not_fsynced(disk: PowerCutMount) -> None:
    kept, lost = disk.mountpoint / "kept", disk.mountpoint / "lost"
    write(kept, b"one", sync=True)
    fsync_dir(disk.mountpoint)
    write(lost, b"never synced")
    with open(kept, "ab") as file:
        file.write(b" two")  # appended, not synced
    assert kept.read_bytes() == b"one two"

    assert disk.cut() > 0
    assert sorted(os.listdir(disk.mountpoint)) == ["kept"]
    assert kept.read_bytes() == b"one"


def test_fdatasync_keeps_the_bytes_too(disk: PowerCutMount) -> None:
    path = disk.mountpoint / "data"
    write(path, b"x" * 10_000, datasync=True)
    fsync_dir(disk.mountpoint)
    disk.cut()
    assert path.read_bytes() == b"x" * 10_000


def test_a_new_file_needs_its_directory_fsynced(disk: PowerCutMount) -> None:
    path = disk.mountpoint / "new"
    write(path, b"synced bytes, unsynced name", sync=True)
    disk.cut()
    assert not path.exists()

    write(path, b"both", sync=True)
    fsync_dir(disk.mountpoint)
    disk.cut()
    assert path.read_bytes() == b"both"


def test_a_rename_needs_its_directory_fsynced(disk: PowerCutMount) -> None:
    old, new = disk.mountpoint / "old", disk.mountpoint / "new"
    write(old, b"v1", sync=True)
    fsync_dir(disk.mountpoint)
    os.rename(old, new)
    disk.cut()
    assert (sorted(os.listdir(disk.mountpoint)), old.read_bytes()) == (["old"], b"v1")

    os.rename(old, new)
    fsync_dir(disk.mountpoint)
    disk.cut()
    assert (sorted(os.listdir(disk.mountpoint)), new.read_bytes()) == (["new"], b"v1")


def test_a_file_synced_under_its_old_name_keeps_the_old_name(disk: PowerCutMount) -> None:
    old, new = disk.mountpoint / "old", disk.mountpoint / "new"
    write(old, b"v1", sync=True)
    fsync_dir(disk.mountpoint)
    os.rename(old, new)
    with open(new, "r+b") as file:
        file.write(b"v2")
        file.flush()
        os.fsync(file.fileno())
    disk.cut()
    assert (sorted(os.listdir(disk.mountpoint)), old.read_bytes()) == (["old"], b"v2")


def test_an_unlink_needs_its_directory_fsynced(disk: PowerCutMount) -> None:
    path = disk.mountpoint / "doomed"
    write(path, b"here", sync=True)
    fsync_dir(disk.mountpoint)
    path.unlink()
    disk.cut()
    assert path.read_bytes() == b"here"
    path.unlink()
    fsync_dir(disk.mountpoint)
    disk.cut()
    assert not path.exists()


def test_a_full_disk_says_enospc_and_frees_again(disk: PowerCutMount) -> None:
    disk.limit(64 * 1024)
    path = disk.mountpoint / "big"
    with pytest.raises(OSError, match="space") as raised, open(path, "wb") as file:
        file.write(b"x" * 128 * 1024)
    assert raised.value.errno == errno.ENOSPC
    assert os.statvfs(disk.mountpoint).f_bavail * 4096 <= 64 * 1024
    disk.limit(None)
    write(path, b"x" * 128 * 1024, sync=True)


@pytest.mark.parametrize(("mode", "code"), [("erofs", errno.EROFS), ("eio", errno.EIO)])
def test_a_broken_disk_fails_every_write(disk: PowerCutMount, mode: str, code: int) -> None:
    path = disk.mountpoint / "file"
    write(path, b"before", sync=True)
    disk.fail(mode)
    with pytest.raises(OSError, match=os.strerror(code)) as raised, open(path, "r+b") as file:  # noqa: PT012
        file.write(b"after")
        file.flush()
        os.fsync(file.fileno())
    assert raised.value.errno == code
    disk.fail(None)
    assert path.read_bytes().startswith(b"before"[:1])


def open_store(path: Path) -> sqlite3.Connection:
    """The store's own settings (edge/store/connection.py)."""
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def test_sqlite_wal_keeps_every_commit_through_random_cuts(disk: PowerCutMount) -> None:
    """Each round commits some rows and leaves a transaction open, then the power goes:
    every committed row is there, the open one's are not, and the file is sound."""
    rng = random.Random(12)
    path = disk.mountpoint / "edge.db"
    committed = 0
    lost_total = 0
    for _ in range(8):
        conn = open_store(path)
        conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, pad BLOB)")
        for _ in range(rng.randint(1, 30)):
            conn.execute("INSERT INTO t VALUES (?, ?)", (committed + 1, os.urandom(300)))
            committed += 1
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (?, ?)", (committed + 1, b"uncommitted"))
        conn.close()  # an open transaction at close is rolled back; and then the cut
        lost_total += disk.cut()

        check = open_store(path)
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert check.execute("SELECT count(*), max(n) FROM t").fetchone() == (committed, committed)
        check.close()
        disk.cut()
    assert committed > 8


def test_sqlite_without_sync_loses_commits(disk: PowerCutMount) -> None:
    """The cut is real: with synchronous=OFF nothing reaches the disk and the commits go."""
    path = disk.mountpoint / "nosync.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("CREATE TABLE t (n)")
    conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    disk.cut()
    check = sqlite3.connect(path)
    tables = check.execute("SELECT name FROM sqlite_master").fetchall()
    check.close()
    assert tables == []
