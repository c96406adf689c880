"""A board's serial line to the host: on a pty paced to the baud rate, or on a real port.

The faults and their counting (`sim.serial.noise`) are the same whatever the line is; the pty
line paces both directions (`sim.serial.pacing`), a real port's UART paces itself.
"""

from __future__ import annotations

import dataclasses
import os
import random
from abc import ABC, abstractmethod
from typing import Any

import serial

from .channel import OUT_CAP, BytesSink, FdChannel
from .noise import DirectionStats, LineFaults, LineNoise
from .pacing import Pacer
from .pty import Pty

# Bytes from the host wait in the receive pacer; above this the pty is not read, so the host's
# write blocks as it would on a wire no faster than the baud rate.
RX_BACKLOG_HIGH = 4096
RX_BACKLOG_LOW = 1024


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
