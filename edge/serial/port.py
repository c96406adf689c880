"""A serial port on pyserial, opened non-blocking and served by the running asyncio loop.

Bytes are read with `loop.add_reader` on the port's file descriptor and handed on as they come;
writes put on the fd what it takes at once and the rest when it is writable, so the loop never
blocks. With `rs485 = true` the kernel drives the transceiver's direction on RTS (pyserial's
`RS485Settings`, the TIOCSRS485 ioctl); a port whose driver refuses that does not open.
Any failure of the open port (an adapter unplugged) closes it and is reported once to `on_lost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

import serial
import serial.rs485

from edge.config import SerialConfig

from .errors import PortError

READ_SIZE = 4096


class SerialPort:
    """One open serial port. `on_bytes` gets every read; `on_lost` the error that closed it."""

    def __init__(
        self,
        config: SerialConfig,
        on_bytes: Callable[[bytes], None],
        on_lost: Callable[[Exception], None],
    ) -> None:
        self._config = config
        self._on_bytes = on_bytes
        self._on_lost = on_lost
        self._serial: serial.Serial | None = None
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unwritten = bytearray()
        self._drained: list[asyncio.Future[None]] = []

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> None:
        """Open and configure the port, and start reading; PortError when it cannot be used."""
        port = serial.Serial()
        try:
            self._configure(port)
            port.open()
        except (OSError, ValueError) as exc:
            raise PortError(str(exc)) from exc
        try:
            if self._config.rs485:
                port.rs485_mode = self._rs485_settings()
        except (OSError, ValueError) as exc:
            port.close()
            raise PortError(f"the port refuses kernel RS-485 mode (rs485 = true): {exc}") from exc
        try:
            fd = port.fileno()
            os.set_blocking(fd, False)
            loop = asyncio.get_running_loop()
            loop.add_reader(fd, self._on_readable)
        except OSError as exc:
            port.close()
            raise PortError(str(exc)) from exc
        self._loop, self._serial, self._fd = loop, port, fd

    def _configure(self, port: serial.Serial) -> None:
        config = self._config
        port.port = config.port
        port.baudrate = config.baudrate
        port.bytesize = serial.EIGHTBITS
        port.parity = serial.PARITY_NONE
        port.stopbits = serial.STOPBITS_ONE
        port.timeout = 0
        port.write_timeout = 0
        port.exclusive = True

    def _rs485_settings(self) -> serial.rs485.RS485Settings:
        config = self._config
        return serial.rs485.RS485Settings(
            rts_level_for_tx=config.rts_level_for_tx,
            rts_level_for_rx=config.rts_level_for_rx,
            delay_before_tx=config.delay_before_tx_s,
            delay_before_rx=config.delay_before_rx_s,
        )

    def write(self, data: bytes) -> None:
        """Queue `data` for the line; what the fd takes now is written at once."""
        fd = self._fd
        if fd is None:
            raise PortError("the port is not open")
        if not self._unwritten:
            try:
                written = os.write(fd, data)
            except BlockingIOError:
                written = 0
            except OSError as exc:
                self._fail(exc)
                raise PortError(str(exc)) from exc
            data = data[written:]
            if not data:
                return
            self._want_writable()
        self._unwritten += data

    async def drained(self) -> None:
        """Wait until every byte written so far is handed to the fd; PortError if it closes."""
        if not self._unwritten:
            return
        if self._loop is None:
            raise PortError("the port is not open")
        waiter = self._loop.create_future()
        self._drained.append(waiter)
        try:
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._drained.remove(waiter)

    def close(self) -> None:
        """Stop reading and writing and close the port; pending drains fail."""
        fd, port = self._fd, self._serial
        self._fd = self._serial = None
        if fd is not None and self._loop is not None:
            self._loop.remove_reader(fd)
            self._loop.remove_writer(fd)
        if port is not None:
            with contextlib.suppress(OSError):
                port.close()
        self._unwritten.clear()
        self._settle_drains(PortError("the port closed"))

    def _on_readable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(exc)
            return
        if not data:
            # Readable with nothing to read: the device hung up.
            self._fail(PortError("the port hung up"))
            return
        self._on_bytes(data)

    def _on_writable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            written = os.write(fd, self._unwritten)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(exc)
            return
        del self._unwritten[:written]
        if not self._unwritten:
            if self._loop is not None:
                self._loop.remove_writer(fd)
            self._settle_drains(None)

    def _want_writable(self) -> None:
        if self._loop is not None and self._fd is not None:
            self._loop.add_writer(self._fd, self._on_writable)

    def _settle_drains(self, error: Exception | None) -> None:
        waiters, self._drained = self._drained, []
        for waiter in waiters:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)

    def _fail(self, error: Exception) -> None:
        if self._fd is None:
            return
        self.close()
        self._on_lost(error)
