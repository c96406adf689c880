"""A wrong wall clock for one process: testbed/fakeclock/fakewall.c, preloaded into the agent,
adds an offset (kept in a file, changeable while the process runs) to the wall clock and leaves
the monotonic clocks and every sleep alone. Built with the machine's C compiler on first use."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SOURCE = Path(__file__).with_name("fakewall.c")


def library() -> Path:
    """The shared library, compiled once per version of its source."""
    source = SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    built = Path(tempfile.gettempdir()) / f"fleet-fakewall-{digest}.so"
    if not built.exists():
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise RuntimeError("testbed.fakeclock needs a C compiler (cc or gcc)")
        partial = built.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(
            [compiler, "-shared", "-fPIC", "-O2", "-o", str(partial), str(SOURCE), "-ldl"],
            check=True,
        )
        partial.replace(built)
    return built


class FakeWall:
    """The wall clock of the processes started with `env()`: real time plus `offset_s`."""

    def __init__(self, path: Path, offset_s: float = 0.0) -> None:
        self.path = path
        self.set_offset(offset_s)

    def env(self) -> dict[str, str]:
        return {"LD_PRELOAD": str(library()), "FAKEWALL_FILE": str(self.path)}

    def set_offset(self, offset_s: float) -> None:
        """From now on (within 50 ms) the clock reads real time plus `offset_s`."""
        partial = self.path.with_suffix(".tmp")
        partial.write_text(f"{offset_s:.6f}\n")
        partial.replace(self.path)
        self.offset_s = offset_s

    def set_wall(self, epoch_s: float) -> None:
        """From now on the clock reads `epoch_s` (and runs on from there)."""
        self.set_offset(epoch_s - time.time())
