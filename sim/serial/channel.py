"""`FdChannel`: non-blocking reads and bounded, queued writes of one fd on the running loop.

The transport under every simulated line: the pty's master (`sim.serial.pty`) and a real port
(`sim.serial.lines.SerialDevice`).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable

BytesSink = Callable[[bytes], None]

READ_SIZE = 1 << 16
OUT_CAP = 1 << 16
ROOM_POLL_S = 0.005


class FdChannel:
    """Non-blocking reads and bounded, queued writes of one fd on the running loop.

    Writes are queued as whole chunks. When the queue would grow past `out_cap` bytes the oldest
    chunks not yet begun are dropped (`dropped_chunks`, `dropped_bytes`); a chunk once begun is
    finished, unless the reader declares it lost (`abandon_unfinished`). `room()`, when given,
    says how many more bytes the reader should be handed now; chunks wait until they fit. With
    `read_before_resuming` one read is made before the rest of a half-written batch goes out,
    so news that the reader flushed its input is seen first.
    """

    def __init__(
        self,
        fd: int,
        on_bytes: BytesSink,
        *,
        out_cap: int = OUT_CAP,
        room: Callable[[], int] | None = None,
        read_before_resuming: bool = False,
    ) -> None:
        self._fd = fd
        self._on_bytes = on_bytes
        self._out_cap = out_cap
        self._room = room
        self._read_before_resuming = read_before_resuming
        self._queue: deque[bytes] = deque()
        self._queued = 0
        self._writing = b""  # a batch of chunks taken from the queue, partly written
        self._writing_chunks = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = False
        self._waiting_writable = False
        self._retry: asyncio.TimerHandle | None = None
        self.dropped_chunks = 0
        self.dropped_bytes = 0
        self.error: OSError | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.resume_reading()

    @property
    def backlog(self) -> int:
        """Bytes written but not yet handed to the fd."""
        return self._queued + len(self._writing)

    def pause_reading(self) -> None:
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def resume_reading(self) -> None:
        if not self._reading and self._loop is not None and self.error is None:
            self._loop.add_reader(self._fd, self._on_readable)
            self._reading = True

    def write(self, chunk: bytes) -> None:
        if len(chunk) > self._out_cap:
            self._count_dropped(1, len(chunk))
            return
        while self._queue and self._queued + len(chunk) > self._out_cap:
            oldest = self._queue.popleft()
            self._queued -= len(oldest)
            self._count_dropped(1, len(oldest))
        self._queue.append(chunk)
        self._queued += len(chunk)
        if not self._waiting_writable and self._retry is None:
            self._flush()

    def discard_pending(self) -> None:
        """Forget the chunks not yet begun, as a device does when its buffers are reset."""
        self._queue.clear()
        self._queued = 0

    def abandon_unfinished(self) -> None:
        """The reader threw away what it had not read: the rest of a batch begun is worthless
        (sent now, it would reach the reader as the tail of a chunk without its head)."""
        if self._writing:
            self._count_dropped(self._writing_chunks, len(self._writing))
            self._writing = b""
            self._writing_chunks = 0

    def close(self) -> None:
        self.pause_reading()
        self._stop_waiting()
        self.discard_pending()
        self._writing = b""

    def _count_dropped(self, chunks: int, size: int) -> None:
        self.dropped_chunks += chunks
        self.dropped_bytes += size

    def _on_readable(self) -> None:
        try:
            data = os.read(self._fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(exc)
            return
        if data:
            self._on_bytes(data)

    def _take_from_queue(self) -> None:
        budget = self._room() if self._room is not None else None
        taken: list[bytes] = []
        size = 0
        while self._queue and (budget is None or size + len(self._queue[0]) <= budget):
            chunk = self._queue.popleft()
            taken.append(chunk)
            size += len(chunk)
        self._queued -= size
        self._writing = b"".join(taken)
        self._writing_chunks = len(taken)

    def _flush(self) -> None:
        if self._writing and self._read_before_resuming and self._reading:
            self._on_readable()  # still marked waiting: a write() from here only queues
        self._stop_waiting()
        while True:
            if not self._writing:
                if not self._queue:
                    return
                self._take_from_queue()
                if not self._writing:
                    self._wait_for_room()
                    return
            try:
                written = os.write(self._fd, self._writing)
            except BlockingIOError:
                self._wait_writable()
                return
            except OSError as exc:
                self._fail(exc)
                return
            self._writing = self._writing[written:]
            if self._writing:
                self._wait_writable()
                return

    def _wait_writable(self) -> None:
        if self._loop is not None:
            self._loop.add_writer(self._fd, self._flush)
            self._waiting_writable = True

    def _wait_for_room(self) -> None:
        if self._loop is not None:
            self._retry = self._loop.call_later(ROOM_POLL_S, self._flush)

    def _stop_waiting(self) -> None:
        if self._waiting_writable and self._loop is not None:
            self._loop.remove_writer(self._fd)
        self._waiting_writable = False
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def _fail(self, exc: OSError) -> None:
        """The fd is gone (a real port unplugged): stop using it, keep the error for `stats`."""
        self.error = exc
        self.pause_reading()
        self._stop_waiting()
        self.abandon_unfinished()
        self._count_dropped(len(self._queue), self._queued)
        self.discard_pending()
