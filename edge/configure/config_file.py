"""The config file replaced atomically, the previous one kept beside it.

`write_settings` edits the file's TOML in place of its values (tomlkit keeps the operator's
comments and layout), writes the result to a temporary file in the same folder, fsyncs it and
renames it over the config: a power cut or SIGKILL at any moment leaves the old file or the
new one, never a mix. Before that the current file is copied, the same way, to
`<name>.previous`, which `restore_previous` renames back.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import JsonValue


def previous_path(path: Path) -> Path:
    return path.with_name(path.name + ".previous")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str | None:
    try:
        return digest(path.read_bytes())
    except FileNotFoundError:
        return None


def with_settings(text: str, settings: Mapping[str, JsonValue]) -> bytes:
    """The TOML `text` with each dotted key set (null: removed), comments kept."""
    document = tomlkit.parse(text)
    for key, value in settings.items():
        *tables, name = key.split(".")
        node: Any = document
        for table in tables:
            if table not in node:
                node[table] = tomlkit.table()
            node = node[table]
        if value is None:
            if name in node:
                del node[name]
        else:
            node[name] = value
    return tomlkit.dumps(document).encode("utf-8")


def write_settings(path: Path, new_content: bytes) -> None:
    """Keeps the current file as `<name>.previous`, then puts `new_content` in its place."""
    atomic_write(previous_path(path), path.read_bytes(), like=path)
    atomic_write(path, new_content, like=path)


def restore_previous(path: Path) -> bool:
    """Puts `<name>.previous` back in place of the config; False when there is none."""
    previous = previous_path(path)
    try:
        content = previous.read_bytes()
    except FileNotFoundError:
        return False
    atomic_write(path, content, like=path)
    return True


def atomic_write(path: Path, content: bytes, *, like: Path) -> None:
    """`content` at `path` by write, fsync, rename, fsync of the folder; with the mode of
    `like` (a config may hold a password: never wider than the original)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    mode = like.stat().st_mode & 0o777
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
