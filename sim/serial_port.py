"""A serial line for the board simulators: a pty paced to the baud rate, or a real port.

The cabinet and parking simulators are slot boards on a serial line (contract section 8). With
no `--port` they stand behind a pty whose slave end the agent opens with pyserial exactly as it
opens /dev/ttyUSB0; with `--port` they open that port. Either way the line carries the faults of
the simulators' `noise` control op: bit errors and lost bytes, in both directions.

`Pty` and `FdChannel` are also the transport under the emulated SLCAN adapter (sim/slcan.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import math
import os
import random
import struct
import termios
import tty
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

BytesSink = Callable[[bytes], None]

READ_SIZE = 1 << 16
OUT_CAP = 1 << 16
# The simulator hands the host at most this many unread bytes; the rest waits in its own capped
# queue, where the oldest can be dropped whole. Kept below the kernel's 4 KiB line-discipline
# buffer, so the kernel rarely takes a write only in part (it still can: its buffers are filled
# by a worker that may lag; see `Pty` for what happens to the rest).
HOST_BACKLOG_MAX = 2048
ROOM_POLL_S = 0.005
# 8N1: a start bit, eight data bits, a stop bit.
BITS_PER_BYTE = 10
PACER_TICK_S = 0.001
# Bytes from the host wait in the receive pacer; above this the pty is not read, so the host's
# write blocks as it would on a wire no faster than the baud rate.
RX_BACKLOG_HIGH = 4096
RX_BACKLOG_LOW = 1024


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


class Pty:
    """A pty pair; the host opens `path` as a serial port, the simulator uses the master.

    The simulator keeps its own fd on the slave open for as long as it runs, so the master never
    sees EIO or a hangup when the host closes the port or is killed, and the host may open the
    port again any number of times. The simulator never reads that fd; it only asks it how much
    the host has left unread.

    The master is in packet mode, so it learns when the host flushes its input (pyserial does on
    every open): the rest of a half-written batch is then dropped, never sent as a headless tail.
    """

    def __init__(self, on_bytes: BytesSink, *, out_cap: int = OUT_CAP) -> None:
        self._on_bytes = on_bytes
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        fcntl.ioctl(self._master, termios.TIOCPKT, struct.pack("i", 1))
        self.path = os.ttyname(self._slave)
        self.host_flushes = 0
        self.channel = FdChannel(
            self._master,
            self._on_packet,
            out_cap=out_cap,
            room=self._host_room,
            read_before_resuming=True,
        )

    def start(self) -> None:
        self.channel.start()

    def write(self, data: bytes) -> None:
        """Queue `data` for the host; pieces longer than `HOST_BACKLOG_MAX` are split."""
        for start in range(0, len(data), HOST_BACKLOG_MAX):
            self.channel.write(data[start : start + HOST_BACKLOG_MAX])

    def close(self) -> None:
        self.channel.close()
        os.close(self._master)
        os.close(self._slave)

    def unread_by_host(self) -> int:
        (count,) = struct.unpack("i", fcntl.ioctl(self._slave, termios.FIONREAD, b"\0\0\0\0"))
        return int(count)

    def _host_room(self) -> int:
        return HOST_BACKLOG_MAX - self.unread_by_host()

    def _on_packet(self, packet: bytes) -> None:
        # Each read of a master in packet mode is one packet: a TIOCPKT_DATA byte and the data,
        # or one byte of TIOCPKT_* status flags.
        if packet[0] == termios.TIOCPKT_DATA:
            if len(packet) > 1:
                self._on_bytes(packet[1:])
        elif packet[0] & termios.TIOCPKT_FLUSHREAD:
            self.host_flushes += 1
            self.channel.abandon_unfinished()


@dataclass(frozen=True)
class LineFaults:
    """Faults on the line; replace the whole value to change them at run time.

    `ber`: each data bit of each byte, in both directions, is flipped with this probability.
    `drop`: each byte, in both directions, is lost with this probability.
    `deaf`: bytes from the host never reach the board. `mute`: the board's bytes never leave it.
    """

    ber: float = 0.0
    drop: float = 0.0
    deaf: bool = False
    mute: bool = False

    def __post_init__(self) -> None:
        for name in ("ber", "drop"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], not {value!r}")


@dataclass
class DirectionStats:
    """What happened to the bytes going one way along the line."""

    bytes_delivered: int = 0  # came off the wire (a full buffer may still lose them later)
    bytes_corrupted: int = 0  # delivered with at least one bit flipped
    bits_flipped: int = 0
    bytes_dropped: int = 0  # lost to the `drop` fault
    bytes_lost: int = 0  # lost otherwise: deaf or mute, or a buffer overflowed


class LineNoise:
    """Bit errors and lost bytes on one direction of the line, drawn from a seeded generator.

    Bit errors are drawn as the gaps between flipped bits (geometric), not one draw per bit.
    """

    def __init__(self, rng: random.Random, stats: DirectionStats) -> None:
        self._rng = rng
        self._stats = stats
        self._ber = 0.0
        self._clean_bits = math.inf  # bits still to pass before the next flipped one

    def apply(self, data: bytes, faults: LineFaults) -> bytes:
        if faults.ber != self._ber:
            self._ber = faults.ber
            self._clean_bits = self._draw_gap()
        if faults.ber == 0.0 and faults.drop == 0.0:
            self._stats.bytes_delivered += len(data)
            return data
        out = bytearray()
        for byte in data:
            if faults.drop > 0.0 and self._rng.random() < faults.drop:
                self._stats.bytes_dropped += 1
                continue
            out.append(byte ^ self._flip_mask())
        self._stats.bytes_delivered += len(out)
        return bytes(out)

    def _flip_mask(self) -> int:
        mask = 0
        position = self._clean_bits
        while position < 8:
            mask |= 1 << int(position)
            position += 1 + self._draw_gap()
        self._clean_bits = position - 8
        if mask:
            self._stats.bytes_corrupted += 1
            self._stats.bits_flipped += mask.bit_count()
        return mask

    def _draw_gap(self) -> float:
        if self._ber == 0.0:
            return math.inf
        if self._ber == 1.0:
            return 0
        return math.floor(math.log(1.0 - self._rng.random()) / math.log(1.0 - self._ber))


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


class SerialLine(ABC):
    """A board's serial line to the host; `on_bytes` gets what the host sends.

    The faults and the counting are the same whatever the line is; subclasses move the bytes.
    """

    def __init__(self, on_bytes: BytesSink, *, baudrate: int = 115200, seed: int = 0) -> None:
        self.baudrate = baudrate
        self.faults = LineFaults()
        self.to_host = DirectionStats()
        self.from_host = DirectionStats()
        self._on_bytes = on_bytes
        # One generator a direction: how the loop interleaves the two never changes the draws.
        self._noise_to_host = LineNoise(random.Random(f"{seed}/to_host"), self.to_host)
        self._noise_from_host = LineNoise(random.Random(f"{seed}/from_host"), self.from_host)

    @property
    @abstractmethod
    def connect(self) -> dict[str, Any]:
        """The agent's `[cabinet.serial]` / `[parking.serial]` keys that reach this line."""

    @abstractmethod
    async def start(self) -> None:
        """Open the line."""

    @abstractmethod
    async def close(self) -> None:
        """Close the line."""

    @abstractmethod
    def _transmit(self, data: bytes) -> None:
        """Put the board's bytes on the wire towards the host."""

    @abstractmethod
    def _buffer_losses(self) -> tuple[int, int]:
        """Bytes lost to full buffers so far: (towards the host, from the host)."""

    def set_faults(self, **changes: Any) -> None:
        """Change some faults, e.g. `set_faults(ber=1e-3, drop=0.01)`; ValueError if invalid."""
        self.faults = dataclasses.replace(self.faults, **changes)

    def write(self, data: bytes) -> None:
        """The board sends `data` to the host."""
        if self.faults.mute:
            self.to_host.bytes_lost += len(data)
            return
        self._transmit(data)

    def stats(self) -> dict[str, Any]:
        to_host_lost, from_host_lost = self._buffer_losses()
        to_host = dataclasses.asdict(self.to_host)
        to_host["bytes_lost"] += to_host_lost
        from_host = dataclasses.asdict(self.from_host)
        from_host["bytes_lost"] += from_host_lost
        return {
            "connect": self.connect,
            "faults": dataclasses.asdict(self.faults),
            "to_host": to_host,
            "from_host": from_host,
        }

    def _noisy_to_host(self, data: bytes) -> bytes:
        return self._noise_to_host.apply(data, self.faults)

    def _received(self, data: bytes) -> None:
        """Bytes from the host reach the board."""
        if self.faults.deaf:
            self.from_host.bytes_lost += len(data)
            return
        data = self._noise_from_host.apply(data, self.faults)
        if data:
            self._on_bytes(data)


class SerialPty(SerialLine):
    """A serial line on a pty, paced to the baud rate in both directions.

    The host's bytes are paced too: they reach the board one byte time apart, and while more
    than `RX_BACKLOG_HIGH` of them wait the pty is not read, so the host's writes take as long
    as on the wire. Noise is applied where a byte arrives, after it crossed the wire. Bytes
    for a host that does not read wait up to `out_cap`; beyond that the oldest are lost, as a
    receiver's overrun loses them.
    """

    def __init__(
        self,
        on_bytes: BytesSink,
        *,
        baudrate: int = 115200,
        seed: int = 0,
        out_cap: int = OUT_CAP,
    ) -> None:
        super().__init__(on_bytes, baudrate=baudrate, seed=seed)
        self._out_cap = out_cap
        self._tx = Pacer(baudrate, self._to_pty)
        self._rx = Pacer(baudrate, self._from_pty)
        self._pty: Pty | None = None

    @property
    def path(self) -> str:
        if self._pty is None:
            raise RuntimeError("the serial pty is not started")
        return self._pty.path

    @property
    def connect(self) -> dict[str, Any]:
        return {"port": self.path, "baudrate": self.baudrate}

    async def start(self) -> None:
        self._pty = Pty(self._read_from_host, out_cap=self._out_cap)
        self._pty.start()

    async def close(self) -> None:
        self._tx.close()
        self._rx.close()
        if self._pty is not None:
            self._pty.close()
            self._pty = None

    def _transmit(self, data: bytes) -> None:
        self._tx.push(data)

    def _buffer_losses(self) -> tuple[int, int]:
        pty_dropped = self._pty.channel.dropped_bytes if self._pty is not None else 0
        return self._tx.overflowed + pty_dropped, self._rx.overflowed

    def _to_pty(self, chunk: bytes) -> None:
        chunk = self._noisy_to_host(chunk)
        if chunk and self._pty is not None:
            self._pty.write(chunk)

    def _read_from_host(self, data: bytes) -> None:
        self._rx.push(data)
        if self._rx.backlog > RX_BACKLOG_HIGH and self._pty is not None:
            self._pty.channel.pause_reading()

    def _from_pty(self, chunk: bytes) -> None:
        if self._rx.backlog < RX_BACKLOG_LOW and self._pty is not None:
            self._pty.channel.resume_reading()
        self._received(chunk)


class SerialDevice(SerialLine):
    """A real serial port (`--port /dev/ttyUSB0`); the UART paces the bytes itself."""

    def __init__(
        self,
        port: str,
        on_bytes: BytesSink,
        *,
        baudrate: int = 115200,
        seed: int = 0,
        out_cap: int = OUT_CAP,
    ) -> None:
        super().__init__(on_bytes, baudrate=baudrate, seed=seed)
        self.port = port
        self._out_cap = out_cap
        self._serial: serial.Serial | None = None
        self._channel: FdChannel | None = None

    @property
    def connect(self) -> dict[str, Any]:
        return {"port": self.port, "baudrate": self.baudrate}

    async def start(self) -> None:
        self._serial = serial.Serial(self.port, self.baudrate, timeout=0)
        fd = self._serial.fileno()
        os.set_blocking(fd, False)
        self._channel = FdChannel(fd, self._received, out_cap=self._out_cap)
        self._channel.start()

    async def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def _transmit(self, data: bytes) -> None:
        data = self._noisy_to_host(data)
        if data and self._channel is not None:
            self._channel.write(data)

    def _buffer_losses(self) -> tuple[int, int]:
        return (self._channel.dropped_bytes if self._channel is not None else 0), 0


def open_serial_line(
    on_bytes: BytesSink, *, port: str | None = None, baudrate: int = 115200, seed: int = 0
) -> SerialLine:
    """The line a board simulator stands behind: the real `port` when given, else a pty."""
    if port is None:
        return SerialPty(on_bytes, baudrate=baudrate, seed=seed)
    return SerialDevice(port, on_bytes, baudrate=baudrate, seed=seed)
