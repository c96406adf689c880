"""Time for records and durations (contract section 1).

Durations come from a monotonic clock that keeps running across agent restarts and reboots:
CLOCK_BOOTTIME within one boot (it also counts suspend), plus an offset kept in the store. After
a reboot the clock resumes from its last checkpoint, adding the wall-clock gap only when the
wall clock was synchronised both before and after; otherwise the time the box was off is not
counted (a renter is never billed for a clock jump).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, JsonValue, ValidationError

from edge.timefmt import rfc3339

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")
TIMESYNCD_SYNCHRONIZED = Path("/run/systemd/timesync/synchronized")
TIME_ERROR = 5  # adjtimex(2): "the system clock is not synchronized to a reliable server"
STATE_KEY = "clock"


@dataclass(frozen=True)
class Now:
    """One reading of the box's clocks: the continuous monotonic seconds and the wall time."""

    mono: float
    wall: str
    clock_synced: bool


class _Timex(ctypes.Structure):
    # struct timex starts with modes (int) then longs; the rest is padding we never read.
    _fields_ = [("modes", ctypes.c_uint), ("rest", ctypes.c_byte * 256)]


def wall_clock_synced() -> bool:
    """True when the kernel (or systemd-timesyncd) says the wall clock is synchronised."""
    if TIMESYNCD_SYNCHRONIZED.exists():
        return True
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        timex = _Timex()
        state = int(libc.adjtimex(ctypes.byref(timex)))
    except (OSError, AttributeError):
        return False
    return state not in (-1, TIME_ERROR)


def _boot_id() -> str:
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""


class ClockCheckpoint(BaseModel):
    """What the store keeps of the clock (under STATE_KEY), written with every heartbeat."""

    boot_id: str
    offset: float
    mono: float
    wall_epoch: float
    synced: bool


def _checkpoint(saved: JsonValue) -> ClockCheckpoint | None:
    try:
        return None if not saved else ClockCheckpoint.model_validate(saved)
    except ValidationError:
        return None  # unreadable: the clock starts again from zero, as on a new box


class BoxClock:
    """The clock every box reads through; `checkpoint_state()` is what the store keeps."""

    def __init__(self, saved: JsonValue, *, synced: bool | None = None) -> None:
        self._synced = wall_clock_synced() if synced is None else synced
        self._synced_checked = time.monotonic()
        boot = _boot_id()
        boottime = time.clock_gettime(time.CLOCK_BOOTTIME)
        checkpoint = _checkpoint(saved)
        if checkpoint is None:
            self._offset = 0.0
        elif checkpoint.boot_id == boot:
            self._offset = checkpoint.offset
        else:
            gap = 0.0
            if checkpoint.synced and self._synced:
                gap = max(0.0, time.time() - checkpoint.wall_epoch)
            self._offset = checkpoint.mono + gap - boottime
        self._boot = boot

    def mono(self) -> float:
        return self._offset + time.clock_gettime(time.CLOCK_BOOTTIME)

    def synced(self) -> bool:
        if time.monotonic() - self._synced_checked > 10.0:
            self._synced = wall_clock_synced()
            self._synced_checked = time.monotonic()
        return self._synced

    def now(self) -> Now:
        return Now(self.mono(), rfc3339(datetime.now(UTC)), self.synced())

    def checkpoint_state(self) -> ClockCheckpoint:
        return ClockCheckpoint(
            boot_id=self._boot,
            offset=self._offset,
            mono=self.mono(),
            wall_epoch=time.time(),
            synced=self.synced(),
        )
