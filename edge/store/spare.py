"""The store's spare room: disk space (and pages beyond `storage.max_mb`) kept back for the
records and replies of a box whose disk or cap has run out.

A file beside the store (`<store>-spare`) holds SPARE_BYTES of allocated blocks. When a write
fails for want of room, the store gives the file back to the filesystem and lifts its page
cap by as much, and the records and replies of what is running, and the replies to refused
commands, are written into that room. The box counts as short until the spare is restored,
which it is once the disk has room for it again.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Final

SPARE_BYTES: Final = 256 * 1024


class SpareRoom:
    def __init__(self, store_path: Path) -> None:
        self.path = store_path.with_name(store_path.name + "-spare")

    @property
    def held(self) -> bool:
        try:
            return self.path.stat().st_size >= SPARE_BYTES
        except OSError:
            return False

    def restore(self) -> bool:
        """Allocates the spare file when the disk has room for it; True when held. Not synced:
        a spare lost in a power cut is allocated again at the next start."""
        if self.held:
            return True
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, SPARE_BYTES)
            finally:
                os.close(fd)
        except OSError:
            self.release()
            return False
        return True

    def release(self) -> bool:
        """Gives the spare file's blocks back to the filesystem; True when it was held."""
        held = self.held
        with contextlib.suppress(OSError):
            self.path.unlink()
        return held
