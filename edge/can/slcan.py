"""SLCAN read in bulk: python-can's `slcan` bus, reading every waiting byte at once.

python-can's `slcanBus` reads one byte per pyserial `read(1)` (a select and a read each, about
19 a frame) and ends every poll in a blocking read of its serial timeout (1 ms). `BulkSlcanBus`
is that bus (same open, bitrate, listen-only `L`, send, shutdown), reading instead everything
the serial line holds in one non-blocking read and splitting it into lines at CR or BEL. A
config keeps `interface = "slcan"`: the CAN link opens this class for it.

Two ways to read: python-can's `recv(timeout)` (the bus is a python-can bus like any other;
python-can parses each line), and `read_frames()`, the CAN link's: every complete line waiting,
without waiting, as (id, data) of the standard data frames whose id the link reads; any other id
is dropped by its first four characters before any decode. A line that is not a frame and not an
adapter's answer is garbage: counted, never raised.

`sleep_after_open` (a Bus() option, `vehicle.can.options`): python-can waits this long after
opening the serial port before its first command, 2 s by default, for adapters that reset when
the port opens (Arduino-style USB serial, some CANable bootloaders); the agent's start-up and
every reopen wait that long too. A CANable or CANUSB stick that answers at once can take
`options = { sleep_after_open = 0 }`; the vehicle simulator's pty announces 0.
"""

from __future__ import annotations

import binascii
import itertools
import os
import select
from collections.abc import Iterable
from typing import Any

from can import CanOperationError
from can.interfaces.slcan import slcanBus

READ_CHUNK = 65536
MAX_LINE = 160
"""Longer than any SLCAN line (an FD frame with 64 bytes and a timestamp is 143 characters):
bytes that run on this long without a CR or BEL are garbage."""
FRAME_KINDS = frozenset(b"tTxrRdDbB")
ANSWER_KINDS = frozenset(b"zZVvNF")
"""Lines an adapter sends in answer to a command (transmit acks, version, serial, status)."""
BEL = b"\a"[0]


class SlcanLines:
    """A byte stream cut into SLCAN lines at CR or BEL; a half line waits for the rest."""

    def __init__(self) -> None:
        self._partial = b""
        self.garbage = 0
        self.refused = 0  # BEL answers: the adapter refused a command

    @property
    def buffered(self) -> int:
        return len(self._partial)

    def feed(self, data: bytes) -> list[bytes]:
        """The complete, non-empty lines `data` finishes, without their terminators."""
        data = self._partial + data
        if BEL in data:
            self.refused += data.count(BEL)
            data = data.replace(b"\a", b"\r")
        *lines, partial = data.split(b"\r")
        if len(partial) > MAX_LINE:
            self.garbage += 1
            partial = b""
        self._partial = partial
        return [line for line in lines if line]

    def finish(self) -> None:
        """The stream ended: a half line left over is garbage."""
        if self._partial:
            self.garbage += 1
            self._partial = b""


def read_prefixes(can_ids: Iterable[int]) -> frozenset[bytes]:
    """Every spelling (either case of hex) of the first four characters of a standard data
    frame line `tIII...` for these ids."""
    prefixes: set[bytes] = set()
    for can_id in can_ids:
        digits = f"{can_id:03x}"
        spellings = [{c, c.upper()} for c in digits]
        prefixes.update(("t" + "".join(s)).encode() for s in itertools.product(*spellings))
    return frozenset(prefixes)


def parse_data_frame(line: bytes) -> tuple[int, bytes]:
    """`tIIILDD..` (optionally a timestamp after the data) as (id, data); ValueError if not."""
    try:
        dlc = int(line[4:5], 16)
        end = 5 + 2 * dlc
        if dlc <= 8 and len(line) >= end:
            return int(line[1:4], 16), binascii.unhexlify(line[5:end])
    except ValueError:
        pass
    raise ValueError(f"bad SLCAN data frame {line[:20]!r}")


class BulkSlcanBus(slcanBus):
    """python-can's slcan bus, reading in bulk (see the module docstring)."""

    def __init__(self, channel: str, *args: Any, **kwargs: Any) -> None:
        self._lines = SlcanLines()
        self._accept: frozenset[bytes] | None = None
        super().__init__(channel, *args, **kwargs)
        try:
            self._fd: int | None = self.serialPortOrig.fileno()
        except Exception:  # a pyserial URL with no file descriptor: read through pyserial
            self._fd = None
        if self._fd is not None:
            os.set_blocking(self._fd, False)

    def take_garbage(self) -> int:
        """Garbage lines counted since the last call."""
        count, self._lines.garbage = self._lines.garbage, 0
        return count

    def read_only(self, can_ids: Iterable[int]) -> None:
        """`read_frames` returns only standard data frames with these ids."""
        self._accept = read_prefixes(can_ids)

    def read_frames(self) -> list[tuple[int, bytes]]:
        """Every frame the line holds now, as (id, data), without waiting. Raises
        CanOperationError when the serial line is gone."""
        frames: list[tuple[int, bytes]] = []
        accept, lines = self._accept, self._lines
        for line in lines.feed(self._read_waiting()):
            kind = line[0]
            if kind == 0x74:  # b"t"
                if accept is not None and line[:4] not in accept:
                    continue
                try:
                    frames.append(parse_data_frame(line))
                except ValueError:
                    lines.garbage += 1
            elif kind not in FRAME_KINDS and kind not in ANSWER_KINDS:
                lines.garbage += 1
        return frames

    def _read_waiting(self) -> bytes:
        if self._fd is None:
            port = self.serialPortOrig
            waiting = port.in_waiting
            return bytes(port.read(waiting)) if waiting else b""
        try:
            data = os.read(self._fd, READ_CHUNK)
        except BlockingIOError:
            return b""
        if not data and select.select([self._fd], [], [], 0)[0]:
            # A tty in raw mode reads b"" when empty; readable and still empty is a hang-up.
            self._lines.finish()
            raise CanOperationError("the serial line is closed")
        return data

    def flush(self) -> None:
        self._lines = SlcanLines()
        super().flush()

    def _read(self, timeout: float | None) -> str | None:
        """python-can's line reader: one line (terminator included, as python-can expects);
        the others read with it wait in python-can's queue."""
        data = self._read_waiting()
        if not data and timeout != 0 and self._fd is not None:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            data = self._read_waiting() if ready else b""
        lines = self._lines.feed(data)
        if not lines:
            return None
        for line in lines[1:]:
            self._queue.put(line.decode() + "\r")
        return lines[0].decode() + "\r"
