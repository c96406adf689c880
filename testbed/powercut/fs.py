"""The filesystem a power cut can hit: what was fsynced survives, everything else is lost.

Everything the programs on the mount see lives in memory (`_Volatile`): the names in each
directory and each file's bytes. The backing directory always holds exactly what has reached
"the disk": a file's bytes are copied there by fsync or fdatasync of that file, and a name is
created, replaced or removed there only by an fsync of its directory, as POSIX promises and as
SQLite's WAL relies on (it fsyncs the directory after creating its -wal file). `cut()` is the
power cut: the memory is thrown away and the mount shows the backing directory again, the way
LazyFS does it for Jepsen.

A byte limit stands in for a full disk (ENOSPC on any write that would grow the files past it),
and a failure mode for a store that cannot write at all (EROFS for a read-only remount, EIO).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mfusepy import FuseOSError, Operations

FailureMode = Literal["erofs", "eio"]
_FAILURE_ERRNO = {"erofs": errno.EROFS, "eio": errno.EIO}
BLOCK = 4096


@dataclass
class Node:
    """One file or directory: the bytes programs see, and the bytes last fsynced."""

    is_dir: bool
    mode: int
    data: bytearray = field(default_factory=bytearray)
    synced: bytes = b""
    unsynced_from: int | None = None  # the lowest offset changed since the last fsync
    mtime_ns: int = field(default_factory=time.time_ns)


def _parent(path: str) -> str:
    return os.path.dirname(path) or "/"


class PowerCutFS(Operations):  # type: ignore[misc]  # mfusepy ships no types
    use_ns = True

    def __init__(self, backing: Path) -> None:
        self.backing = backing
        self._lock = threading.RLock()
        self._names: dict[str, Node] = {}  # what programs see, by absolute path
        self._durable: dict[str, Node] = {}  # what the backing directory holds, by path
        self._handles: dict[int, Node] = {}
        self._next_handle = 1
        self.limit_bytes: int | None = None
        self.failure: FailureMode | None = None
        self.cuts = 0
        self.syncs = 0
        self.dir_syncs = 0
        self._load()

    # --- the power cut, the full disk, the broken disk ------------------------------

    def _load(self) -> None:
        self._names = {"/": Node(is_dir=True, mode=stat.S_IFDIR | 0o755)}
        for directory, dirnames, filenames in os.walk(self.backing):
            relative = os.path.relpath(directory, self.backing)
            rel = "/" if relative == "." else "/" + relative
            for name in dirnames:
                self._names[os.path.join(rel, name)] = Node(True, stat.S_IFDIR | 0o755)
            for name in filenames:
                content = (Path(directory) / name).read_bytes()
                self._names[os.path.join(rel, name)] = Node(
                    False, stat.S_IFREG | 0o644, bytearray(content), content
                )
        self._durable = dict(self._names)
        self._handles = {}

    def cut(self) -> int:
        """The power goes: every byte and name not yet fsynced is gone. The bytes lost."""
        with self._lock:
            lost = sum(
                len(node.data) for node in self._names.values() if bytes(node.data) != node.synced
            )
            self._load()
            self.cuts += 1
            return lost

    def used_bytes(self) -> int:
        return sum(len(node.data) for node in self._names.values())

    @staticmethod
    def _changed(node: Node, offset: int) -> None:
        node.unsynced_from = (
            offset if node.unsynced_from is None else min(node.unsynced_from, offset)
        )
        node.mtime_ns = time.time_ns()

    def _check_writable(self, growth: int = 0) -> None:
        if self.failure is not None:
            raise FuseOSError(_FAILURE_ERRNO[self.failure])
        if (
            growth > 0
            and self.limit_bytes is not None
            and self.used_bytes() + growth > self.limit_bytes
        ):
            raise FuseOSError(errno.ENOSPC)

    # --- lookups --------------------------------------------------------------------

    def _node(self, path: str) -> Node:
        node = self._names.get(path)
        if node is None:
            raise FuseOSError(errno.ENOENT)
        return node

    def _children(self, path: str) -> Iterator[str]:
        prefix = path.rstrip("/") + "/"
        for name in self._names:
            if name != "/" and name.startswith(prefix) and "/" not in name[len(prefix) :]:
                yield name

    def _handle(self, node: Node) -> int:
        handle = self._next_handle
        self._next_handle += 1
        self._handles[handle] = node
        return handle

    # --- what the kernel asks -------------------------------------------------------

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        with self._lock:
            node = self._handles.get(fh) if fh else None
            node = node or self._node(path)
            size = len(node.data)
            return {
                "st_mode": node.mode,
                "st_nlink": 2 if node.is_dir else 1,
                "st_size": size,
                "st_blocks": (size + 511) // 512,
                "st_uid": os.getuid(),
                "st_gid": os.getgid(),
                "st_mtime": node.mtime_ns,
                "st_ctime": node.mtime_ns,
                "st_atime": node.mtime_ns,
            }

    def access(self, path: str, amode: int) -> int:
        with self._lock:
            self._node(path)
            return 0

    def readdir(self, path: str, fh: int) -> list[str]:
        with self._lock:
            return [".", "..", *(os.path.basename(name) for name in self._children(path))]

    def opendir(self, path: str) -> int:
        with self._lock:
            return self._handle(self._node(path))

    def releasedir(self, path: str, fh: int) -> int:
        with self._lock:
            self._handles.pop(fh, None)
            return 0

    def mkdir(self, path: str, mode: int) -> int:
        with self._lock:
            self._check_writable()
            if path in self._names:
                raise FuseOSError(errno.EEXIST)
            self._node(_parent(path))
            self._names[path] = Node(True, stat.S_IFDIR | (mode & 0o7777))
            return 0

    def rmdir(self, path: str) -> int:
        with self._lock:
            self._check_writable()
            self._node(path)
            if any(True for _ in self._children(path)):
                raise FuseOSError(errno.ENOTEMPTY)
            del self._names[path]
            return 0

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        with self._lock:
            self._check_writable()
            self._node(_parent(path))
            node = self._names.get(path)
            if node is None:
                node = Node(False, stat.S_IFREG | (mode & 0o7777))
                self._names[path] = node
            return self._handle(node)

    def open(self, path: str, flags: int) -> int:
        with self._lock:
            node = self._node(path)
            if flags & os.O_TRUNC:
                self._check_writable()
                node.data.clear()
                self._changed(node, 0)
            return self._handle(node)

    def release(self, path: str, fh: int) -> int:
        with self._lock:
            self._handles.pop(fh, None)
            return 0

    def flush(self, path: str, fh: int) -> int:
        return 0  # close() persists nothing: only fsync does

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        with self._lock:
            node = self._handles.get(fh) or self._node(path)
            return bytes(node.data[offset : offset + size])

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        with self._lock:
            node = self._handles.get(fh) or self._node(path)
            self._check_writable(max(0, offset + len(data) - len(node.data)))
            if offset > len(node.data):
                node.data.extend(bytes(offset - len(node.data)))
            self._changed(node, min(offset, len(node.data)))
            node.data[offset : offset + len(data)] = data
            return len(data)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        with self._lock:
            node = (self._handles.get(fh) if fh else None) or self._node(path)
            self._check_writable(max(0, length - len(node.data)))
            if length < len(node.data):
                del node.data[length:]
            else:
                node.data.extend(bytes(length - len(node.data)))
            self._changed(node, min(length, len(node.data)))
            return 0

    def fallocate(self, path: str, mode: int, offset: int, length: int, fh: int) -> int:
        with self._lock:
            node = self._handles.get(fh) or self._node(path)
            end = offset + length
            self._check_writable(max(0, end - len(node.data)))
            if end > len(node.data):
                self._changed(node, len(node.data))
                node.data.extend(bytes(end - len(node.data)))
            return 0

    def unlink(self, path: str) -> int:
        with self._lock:
            self._check_writable()
            node = self._node(path)
            if node.is_dir:
                raise FuseOSError(errno.EISDIR)
            del self._names[path]
            return 0

    def rename(self, old: str, new: str, flags: int = 0) -> int:
        with self._lock:
            self._check_writable()
            node = self._node(old)
            self._node(_parent(new))
            moved = {old: node}
            if node.is_dir:
                moved.update(
                    (name, n) for name, n in self._names.items() if name.startswith(old + "/")
                )
            for name in moved:
                del self._names[name]
            for name, moved_node in moved.items():
                self._names[new + name[len(old) :]] = moved_node
            return 0

    def chmod(self, path: str, mode: int) -> int:
        with self._lock:
            node = self._node(path)
            node.mode = (node.mode & ~0o7777) | (mode & 0o7777)
            return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        with self._lock:
            node = self._node(path)
            node.mtime_ns = times[1] if times else time.time_ns()
            return 0

    def statfs(self, path: str) -> dict[str, int]:
        with self._lock:
            total = self.limit_bytes if self.limit_bytes is not None else 1 << 34
            free = max(0, total - self.used_bytes())
            return {
                "f_bsize": BLOCK,
                "f_frsize": BLOCK,
                "f_blocks": total // BLOCK,
                "f_bfree": free // BLOCK,
                "f_bavail": free // BLOCK,
                "f_files": 1 << 20,
                "f_ffree": 1 << 20,
                "f_namemax": 255,
            }

    # --- durability -----------------------------------------------------------------

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        """The file's bytes reach the disk, under every name the disk already has for it."""
        with self._lock:
            if self.failure is not None:
                raise FuseOSError(_FAILURE_ERRNO[self.failure])
            node = self._handles.get(fh) or self._node(path)
            node.synced = bytes(node.data)
            changed_from = node.unsynced_from
            node.unsynced_from = None
            if changed_from is not None and not node.is_dir:
                for name, durable in self._durable.items():
                    if durable is node:
                        self._update_backing(name, node.synced, changed_from)
            self.syncs += 1
            return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        """The directory's entries reach the disk as they are now: new names appear there
        (with their files' fsynced bytes), renamed and removed ones go."""
        with self._lock:
            if self.failure is not None:
                raise FuseOSError(_FAILURE_ERRNO[self.failure])
            now = {name: self._names[name] for name in self._children(path)}
            before = [name for name in self._durable if name != "/" and _parent(name) == path]
            for name in before:
                if now.get(name) is not self._durable[name]:
                    self._remove_backing(name, self._durable.pop(name))
            for name, node in now.items():
                if self._durable.get(name) is not node:
                    self._durable[name] = node
                    if node.is_dir:
                        (self.backing / name.lstrip("/")).mkdir(exist_ok=True)
                    else:
                        self._write_backing(name, node.synced)
            self.dir_syncs += 1
            return 0

    def _update_backing(self, name: str, content: bytes, changed_from: int) -> None:
        with open(self.backing / name.lstrip("/"), "r+b") as file:
            file.seek(changed_from)
            file.write(content[changed_from:])
            file.truncate(len(content))

    def _write_backing(self, name: str, content: bytes) -> None:
        target = self.backing / name.lstrip("/")
        temporary = target.with_name(target.name + ".powercut-tmp")
        temporary.write_bytes(content)
        temporary.replace(target)

    def _remove_backing(self, name: str, node: Node) -> None:
        target = self.backing / name.lstrip("/")
        if node.is_dir:
            for inner in [n for n in self._durable if n.startswith(name + "/")]:
                self._durable.pop(inner)
            _remove_tree(target)
        else:
            target.unlink(missing_ok=True)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for inner in path.iterdir():
        if inner.is_dir():
            _remove_tree(inner)
        else:
            inner.unlink()
    path.rmdir()
