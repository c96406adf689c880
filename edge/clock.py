"""Time for records, durations and command expiry (contract section 1; docs/time-and-storage.md).

The box's monotonic clock (`mono`) keeps running across agent restarts and reboots:
CLOCK_BOOTTIME within one boot (it also counts suspend), plus an offset kept in the store, so a
new boot resumes where the last checkpoint left it. The time the box was off is not in `mono`;
it is counted in a ledger of off times once the wall clock is synchronised, at boot or later in
the boot, by comparing the synchronised wall clock with the last synchronised reading (the
anchor). `Now.since(then)` is real time elapsed: the monotonic difference plus the off times
between. Time only moves forward: an off time is never negative, never counted twice.

The wall-clock floor: the box never believes a time earlier than the newest `issued_at` it has
verified, advanced on the monotonic clock. `Now.wall` is never below it, and the clock counts as
unsynchronised while the system clock reads below it (by more than the allowed skew).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol

from pydantic import BaseModel, JsonValue, ValidationError

from edge.logs import get_logger
from edge.timefmt import rfc3339

BOOT_ID_FILE: Final = Path("/proc/sys/kernel/random/boot_id")
TIMESYNCD_SYNCHRONIZED: Final = Path("/run/systemd/timesync/synchronized")
TIME_ERROR: Final = 5  # adjtimex(2): "the system clock is not synchronized to a reliable server"
STATE_KEY: Final = "clock"
SYNC_POLL_S: Final = 1.0  # how often the source's synchronised flag is read again
OFF_TIMES_KEPT: Final = 64  # the oldest off times are forgotten beyond this many


@dataclass(frozen=True)
class OffTime:
    """The box was off (or its agent down) for `seconds` just before monotonic time `at_mono`:
    every reading taken before it is followed by that much real time the monotonic clock missed."""

    at_mono: float
    seconds: float


@dataclass(frozen=True)
class Stamp:
    """A wall-clock time the box wrote down, and whether its clock was synchronised then."""

    wall: str
    synced: bool


class Now:
    """One reading of the box's clocks: the continuous monotonic seconds and the wall time.

    `wall` is RFC 3339 text; given as epoch seconds it is formatted when first read (most
    readings, a signal update among them, never write it down)."""

    __slots__ = ("_wall", "clock_synced", "mono", "off_times")

    def __init__(
        self,
        mono: float,
        wall: str | float,
        clock_synced: bool,
        off_times: tuple[OffTime, ...] = (),
    ) -> None:
        self.mono = mono
        self.clock_synced = clock_synced
        self.off_times = off_times
        self._wall = wall

    @property
    def wall(self) -> str:
        wall = self._wall
        if isinstance(wall, str):
            return wall
        text = self._wall = rfc3339(datetime.fromtimestamp(wall, UTC))
        return text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Now):
            return NotImplemented
        return (self.mono, self.wall, self.clock_synced, self.off_times) == (
            other.mono,
            other.wall,
            other.clock_synced,
            other.off_times,
        )

    def __hash__(self) -> int:
        return hash((self.mono, self.wall, self.clock_synced, self.off_times))

    def __repr__(self) -> str:
        return (
            f"Now(mono={self.mono!r}, wall={self.wall!r}, clock_synced={self.clock_synced!r}, "
            f"off_times={self.off_times!r})"
        )

    def since(self, then_mono: float) -> float:
        """Real seconds from the monotonic reading `then_mono` to now, off times included."""
        missed = sum(o.seconds for o in self.off_times if then_mono < o.at_mono <= self.mono)
        return self.mono - then_mono + missed

    @property
    def stamp(self) -> Stamp:
        return Stamp(self.wall, self.clock_synced)


class ClockSource(Protocol):
    """What the box reads its time from: the system's clocks, or a test's."""

    def wall(self) -> float:
        """The wall clock, epoch seconds."""

    def boottime(self) -> float:
        """Seconds since this boot, suspend included (CLOCK_BOOTTIME)."""

    def boot_id(self) -> str:
        """Different after every reboot."""

    def synced(self) -> bool:
        """The system says its wall clock is synchronised."""


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


class SystemClock:
    """The system's clocks. With `synced_file`, its existence alone says the clock is
    synchronised (config `clock.synced_file`); else the kernel and systemd-timesyncd say."""

    def __init__(self, synced_file: Path | None = None, boot_id_file: Path = BOOT_ID_FILE):
        self._synced_file = synced_file
        self._boot_id_file = boot_id_file

    def wall(self) -> float:
        return time.time()

    def boottime(self) -> float:
        return time.clock_gettime(time.CLOCK_BOOTTIME)

    def boot_id(self) -> str:
        try:
            return self._boot_id_file.read_text().strip()
        except OSError:
            return ""

    def synced(self) -> bool:
        if self._synced_file is not None:
            return self._synced_file.exists()
        return wall_clock_synced()


class Reading(BaseModel):
    """At monotonic time `mono` the wall time was (at least) `wall`, epoch seconds."""

    mono: float
    wall: float


class OffTimeModel(BaseModel):
    at_mono: float
    seconds: float


class ClockCheckpoint(BaseModel):
    """What the store keeps of the clock (under STATE_KEY), written with every transaction."""

    boot_id: str
    offset: float
    mono: float
    wall_epoch: float
    synced: bool
    anchor: Reading | None = None  # the last synchronised reading
    uncounted_at: float | None = None  # an off time since the anchor, not yet counted, sits here
    off_times: list[OffTimeModel] = []
    floor: Reading | None = None  # the newest verified issued_at


def _checkpoint(saved: JsonValue) -> ClockCheckpoint | None:
    try:
        return None if not saved else ClockCheckpoint.model_validate(saved)
    except ValidationError:
        return None  # unreadable: the clock starts again from zero, as on a new box


class BoxClock:
    """The clock every box reads through; `checkpoint_state()` is what the store keeps.

    `skew_s` (config security.clock_skew_s) is how far below the floor the system clock may read
    and still count as synchronised. `on_off_time(seconds)` callbacks run when an off time is
    counted after the boot began (durations and deadlines waiting on timers change).
    """

    def __init__(
        self,
        saved: JsonValue,
        *,
        synced: bool | None = None,
        source: ClockSource | None = None,
        skew_s: float = 0.0,
        sync_poll_s: float = SYNC_POLL_S,
    ) -> None:
        if source is None:
            source = SystemClock() if synced is None else _FixedSync(synced)
        self._source = source
        self._skew = skew_s
        self._sync_poll = sync_poll_s
        self._log = get_logger("clock")
        self.on_off_time: list[Callable[[float], None]] = []
        self._boot = source.boot_id()
        boottime = source.boottime()
        checkpoint = _checkpoint(saved)
        self._anchor: Reading | None = None
        self._uncounted_at: float | None = None
        self._off_times: tuple[OffTime, ...] = ()
        self._floor: Reading | None = None
        if checkpoint is None:
            self._offset = 0.0
        else:
            self._anchor, self._floor = checkpoint.anchor, checkpoint.floor
            self._uncounted_at = checkpoint.uncounted_at
            self._off_times = tuple(OffTime(o.at_mono, o.seconds) for o in checkpoint.off_times)
            if checkpoint.boot_id == self._boot:
                self._offset = checkpoint.offset
            else:
                self._offset = checkpoint.mono - boottime
                if self._anchor is not None and self._uncounted_at is None:
                    self._uncounted_at = checkpoint.mono
        self._synced = False
        self._synced_read_at = -1e18
        self._booting = True
        self._read_synced()
        self._booting = False

    # Readings

    def mono(self) -> float:
        return self._offset + self._source.boottime()

    def synced(self) -> bool:
        """The system clock is synchronised and not below the floor."""
        return self._read_synced()

    def now(self) -> Now:
        synced = self._read_synced()
        mono = self.mono()
        wall = self._source.wall()
        floor = self._floor_at(mono)
        if floor is not None and wall < floor:
            wall = floor
        return Now(mono, wall, synced, self._off_times)

    def expiry_time(self) -> tuple[float, bool]:
        """The time expiry checks use (epoch seconds, never below the floor) and whether the
        clock is synchronised."""
        synced = self._read_synced()
        wall = self._source.wall()
        floor = self._floor_at(self.mono())
        return (wall if floor is None else max(wall, floor)), synced

    def floor(self) -> float | None:
        """The wall-clock floor now, epoch seconds; None before any command was verified."""
        return self._floor_at(self.mono())

    def raise_floor(self, issued_at_epoch: float) -> None:
        """A command issued at `issued_at_epoch` was verified: time is at least that now.
        Made durable by the next transaction's checkpoint (the one remembering the command)."""
        mono = self.mono()
        floor = self._floor_at(mono)
        if floor is None or issued_at_epoch > floor:
            self._floor = Reading(mono=mono, wall=issued_at_epoch)

    @property
    def uncounted(self) -> bool:
        """The box was off since its last synchronised reading and that time is not counted."""
        return self._uncounted_at is not None

    def checkpoint_state(self) -> ClockCheckpoint:
        synced = self._read_synced()
        return ClockCheckpoint(
            boot_id=self._boot,
            offset=self._offset,
            mono=self.mono(),
            wall_epoch=self._source.wall(),
            synced=synced,
            anchor=self._anchor,
            uncounted_at=self._uncounted_at,
            off_times=[OffTimeModel(at_mono=o.at_mono, seconds=o.seconds) for o in self._off_times],
            floor=self._floor,
        )

    # Synchronisation and the off-time ledger

    def _floor_at(self, mono: float) -> float | None:
        floor = self._floor
        if floor is None:
            return None
        return floor.wall + Now(mono, "", False, self._off_times).since(floor.mono)

    def _read_synced(self) -> bool:
        boottime = self._source.boottime()
        if boottime - self._synced_read_at >= self._sync_poll:
            self._synced_read_at = boottime
            was = self._synced
            self._synced = self._source.synced() and self._at_or_above_floor()
            if self._synced and not was:
                self._log.info("clock.synced", wall=rfc3339(datetime.now(UTC)))
            elif was and not self._synced:
                self._log.warning("clock.unsynced")
        if self._synced:
            self._count_off_time()
        return self._synced

    def _at_or_above_floor(self) -> bool:
        floor = self._floor_at(self.mono())
        return floor is None or self._source.wall() >= floor - self._skew

    def _count_off_time(self) -> None:
        mono, wall = self.mono(), self._source.wall()
        anchor, at = self._anchor, self._uncounted_at
        if anchor is not None and at is None:
            # A synchronised clock stepped back within a boot does not move the anchor back:
            # counted later against it, the step would be billed as off time.
            projected = anchor.wall + Now(mono, "", False, self._off_times).since(anchor.mono)
            self._anchor = Reading(mono=mono, wall=max(wall, projected))
            return
        self._anchor = Reading(mono=mono, wall=wall)
        if anchor is None or at is None:
            return
        self._uncounted_at = None
        seconds = (wall - anchor.wall) - Now(mono, "", False, self._off_times).since(anchor.mono)
        if seconds <= 0:
            self._log.info("clock.off_time_counted", seconds=0.0)
            return
        self._off_times = (*self._off_times, OffTime(at, seconds))[-OFF_TIMES_KEPT:]
        self._log.info("clock.off_time_counted", seconds=round(seconds, 3))
        if not self._booting:
            for callback in self.on_off_time:
                callback(seconds)


class _FixedSync(SystemClock):
    """The system's clocks with a fixed answer to `synced` (tests, tools)."""

    def __init__(self, synced: bool) -> None:
        super().__init__()
        self._fixed = synced

    def synced(self) -> bool:
        return self._fixed
