"""Frames out of a byte stream that may be cut anywhere, corrupted, or start mid-frame.

There is no byte stuffing: the start byte may appear inside a frame. A candidate frame begins
at a start byte; it is taken only when its length is plausible and its CRC matches. Otherwise
only that start byte is dropped and the hunt goes on from the next start byte, so a good frame
behind garbage is never skipped. `idle()` tells the reassembler the line went quiet, which
proves that an unfinished candidate was never a frame (a sender writes a frame without gaps).
"""

from __future__ import annotations

from .errors import CrcError, IncompleteFrame, InvalidFrame
from .frame import MAX_FRAME, START, Frame

BUFFER_CAP = 2 * MAX_FRAME


class FrameReassembler:
    """Bytes in, good frames out; never raises on what it is fed.

    Counters: `frames` taken, `garbage_bytes` dropped, `crc_errors` (whole candidates that
    failed their CRC), `resyncs` (runs of dropped bytes between frames). Every byte fed is
    exactly one of: in a returned frame, counted in `garbage_bytes`, or still `buffered`.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._in_sync = True
        self.frames = 0
        self.garbage_bytes = 0
        self.crc_errors = 0
        self.resyncs = 0

    @property
    def buffered(self) -> int:
        """Bytes held back: the start of a frame still arriving."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """The frames completed by `data`, in order."""
        frames: list[Frame] = []
        # Fed in slices of at most one frame, the buffer stays below BUFFER_CAP.
        for offset in range(0, len(data), MAX_FRAME):
            self._buffer += data[offset : offset + MAX_FRAME]
            frames += self._extract()
        return frames

    def idle(self) -> list[Frame]:
        """The line went quiet: give up on the unfinished candidate and on nothing else."""
        frames = self._extract()
        while self._buffer:
            self._drop(1)
            frames += self._extract()
        return frames

    def _extract(self) -> list[Frame]:
        frames: list[Frame] = []
        while self._buffer:
            start = self._buffer.find(START)
            if start != 0:
                self._drop(len(self._buffer) if start < 0 else start)
                continue
            try:
                frame, rest = Frame.deserialize(bytes(self._buffer))
            except IncompleteFrame:
                break
            except CrcError:
                self.crc_errors += 1
                self._drop(1)
                continue
            except InvalidFrame:
                self._drop(1)
                continue
            self._buffer = bytearray(rest)
            self._in_sync = True
            self.frames += 1
            frames.append(frame)
        return frames

    def _drop(self, count: int) -> None:
        del self._buffer[:count]
        self.garbage_bytes += count
        if self._in_sync:
            self.resyncs += 1
            self._in_sync = False
