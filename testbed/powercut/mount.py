"""The power-cut filesystem as a process the tests and the campaign drive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from testbed.processes import JsonLine, JsonLinesProcess


class PowerCutMount(JsonLinesProcess):
    """`python -m testbed.powercut` on `workdir/backing` mounted at `workdir/mnt`."""

    def __init__(self, workdir: Path) -> None:
        self.backing = workdir / "backing"
        self.mountpoint = workdir / "mnt"
        self.backing.mkdir(parents=True, exist_ok=True)
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        super().__init__(
            [sys.executable, "-m", "testbed.powercut", str(self.backing), str(self.mountpoint)],
            stdin=True,
        )
        try:
            self.wait_event("powercut.ready", timeout=20)
        except (TimeoutError, EOFError):
            self.kill()
            raise

    def _ask(self, event: str, **command: Any) -> JsonLine:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json_line(command))
        self.proc.stdin.flush()
        return self.wait_event(event, timeout=20)

    def cut(self) -> int:
        """The power cut: every byte and name not yet fsynced is lost. The bytes lost."""
        lost: int = self._ask("cut", op="cut")["lost_bytes"]
        return lost

    def limit(self, size: int | None) -> JsonLine:
        """A disk of `size` bytes from now on (None: unlimited)."""
        return self._ask("limit", op="limit", bytes=size)

    def fail(self, mode: str | None) -> None:
        """Every write fails with EROFS ("erofs") or EIO ("eio"), or (None) works again."""
        self._ask("fail", op="fail", mode=mode)

    def stats(self) -> JsonLine:
        return self._ask("stats", op="stats")

    def stop(self, timeout: float = 15.0) -> int:
        """Unmounts (EOF on its stdin) and waits for it to exit."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        if os.path.ismount(self.mountpoint):
            subprocess.run(["fusermount3", "-u", "-z", str(self.mountpoint)], check=False)
        return self.proc.wait()


def json_line(command: dict[str, Any]) -> str:
    import json

    return json.dumps(command) + "\n"
