"""`Pacer`: hands bytes on no faster than a UART at a baud rate carries them."""

from __future__ import annotations

import asyncio

from .channel import OUT_CAP, BytesSink

# 8N1: a start bit, eight data bits, a stop bit.
BITS_PER_BYTE = 10
PACER_TICK_S = 0.001


class Pacer:
    """Hands bytes on no faster than a UART at `baudrate` (8N1) carries them.

    A byte is handed on when its stop bit would have arrived. Chunks are released on the loop's
    clock every `PACER_TICK_S` or so, sized by the time elapsed, never by sleeping per byte.
    Bytes beyond `cap` waiting are lost (`overflowed`), as in a transmitter's full FIFO.
    """

    def __init__(self, baudrate: int, sink: BytesSink, *, cap: int = OUT_CAP) -> None:
        if baudrate <= 0:
            raise ValueError(f"baudrate must be positive, not {baudrate!r}")
        self._byte_time = BITS_PER_BYTE / baudrate
        self._sink = sink
        self._cap = cap
        self._buffer = bytearray()
        self._line_free_at = 0.0  # loop time at which the last released byte left the wire
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.overflowed = 0

    @property
    def backlog(self) -> int:
        return len(self._buffer)

    def push(self, data: bytes) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        room = self._cap - len(self._buffer)
        if len(data) > room:
            self.overflowed += len(data) - room
            data = data[:room]
        if not data:
            return
        if not self._buffer:
            self._line_free_at = max(self._line_free_at, self._loop.time())
        self._buffer += data
        if self._timer is None:
            self._schedule()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._buffer.clear()

    def _schedule(self) -> None:
        assert self._loop is not None
        due = max(self._line_free_at + self._byte_time, self._loop.time() + PACER_TICK_S)
        self._timer = self._loop.call_at(due, self._release)

    def _release(self) -> None:
        assert self._loop is not None
        self._timer = None
        elapsed = self._loop.time() - self._line_free_at
        count = min(len(self._buffer), int(elapsed / self._byte_time + 1e-6))
        if count > 0:
            chunk = bytes(self._buffer[:count])
            del self._buffer[:count]
            self._line_free_at += count * self._byte_time
            self._sink(chunk)
        if self._buffer and self._timer is None:
            self._schedule()
