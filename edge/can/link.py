"""The CAN bus link on python-can: any interface by config, receive filters, reopen on failure.

A link opened listen-only (a car whose profile maps no command and no OBD-II polling) never
writes a frame: `send` refuses, and the interface itself is opened listen-only where python-can
allows it.

Frames are read on the agent's asyncio loop (add_reader on the bus's file descriptor, or a
reader thread handing frames to the loop where the interface has none). `interface = "slcan"`
opens edge.can.slcan's BulkSlcanBus: python-can's slcan bus, reading every waiting byte at once
and dropping the ids the link does not read before any decode. A bus that cannot be
opened, or fails later, is reopened with exponential backoff; the rest of the agent keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import can
import structlog

from edge.can.slcan import BulkSlcanBus
from edge.config import CanConfig

RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 30.0
SEND_TIMEOUT_S = 0.1

FrameHandler = Callable[[int, bytes], None]

LISTEN_ONLY_KWARG = {"slcan": "listen_only"}
"""python-can interfaces that open listen-only by a Bus() argument. SocketCAN has none: the
interface is set listen-only by networkd (systemd/80-edge-can0.network, ListenOnly=yes)."""


@dataclass
class CanCounters:
    frames_in: int = 0
    frames_out: int = 0
    send_errors: int = 0
    garbage: int = 0
    reopens: int = 0


class CanLink:
    """One CAN bus, opened and kept open; `on_frame(id, data)` runs on the loop for each frame."""

    def __init__(
        self,
        settings: CanConfig,
        receive_ids: Iterable[int],
        on_frame: FrameHandler,
        *,
        on_state: Callable[[bool], None] | None = None,
        logger: Any | None = None,
        listen_only: bool = False,
    ) -> None:
        self._settings = settings
        self.listen_only = listen_only
        self._receive_ids = frozenset(receive_ids)
        self._filters = [
            {"can_id": can_id, "can_mask": 0x7FF, "extended": False}
            for can_id in sorted(self._receive_ids)
        ]
        self._on_frame = on_frame
        self._on_state = on_state or (lambda up: None)
        self._log = logger or structlog.get_logger(component="can")
        self._bus: can.BusABC | None = None
        self._reader_thread: threading.Thread | None = None
        self._fd: int | None = None
        self._failed = asyncio.Event()
        self._closing = False
        self.counters = CanCounters()

    @property
    def up(self) -> bool:
        return self._bus is not None

    def send(self, arbitration_id: int, data: bytes) -> bool:
        """Write one frame; False (logged, counted) when the bus is down or refuses it."""
        bus = self._bus
        if self.listen_only:
            self.counters.send_errors += 1
            self._log.warning("can.send_failed", id=hex(arbitration_id), reason="listen-only")
            return False
        if bus is None:
            self.counters.send_errors += 1
            self._log.warning("can.send_failed", id=hex(arbitration_id), reason="bus down")
            return False
        message = can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False)
        try:
            bus.send(message, timeout=SEND_TIMEOUT_S)
        except (can.CanError, OSError, ValueError) as exc:
            self.counters.send_errors += 1
            self._log.warning("can.send_failed", id=hex(arbitration_id), reason=str(exc))
            self._failed.set()
            return False
        self.counters.frames_out += 1
        return True

    async def run(self, opened: asyncio.Event | None = None) -> None:
        """Open the bus, read until it fails, reopen with backoff; until cancelled."""
        delay = RECONNECT_MIN_S
        try:
            while True:
                try:
                    await self._open()
                except (can.CanError, OSError, ValueError, ImportError) as exc:
                    wait = random.uniform(RECONNECT_MIN_S, delay)
                    self._log.error(
                        "can.open_failed",
                        interface=self._settings.interface,
                        channel=self._settings.channel,
                        error=str(exc),
                        retry_in_s=round(wait, 2),
                    )
                    await asyncio.sleep(wait)
                    delay = min(delay * 2, RECONNECT_MAX_S)
                    continue
                delay = RECONNECT_MIN_S
                self._log.info(
                    "can.open", interface=self._settings.interface, channel=self._settings.channel
                )
                self._on_state(True)
                if opened is not None:
                    opened.set()
                await self._failed.wait()
                self._close_bus()
                self._on_state(False)
                self.counters.reopens += 1
                self._log.error("can.bus_lost", channel=self._settings.channel)
                await asyncio.sleep(RECONNECT_MIN_S)
        finally:
            self._closing = True
            self._close_bus()

    async def _open(self) -> None:
        settings = self._settings
        loop = asyncio.get_running_loop()
        kwargs: dict[str, Any] = dict(settings.options)
        kwargs.setdefault("bitrate", settings.bitrate)
        if self.listen_only and settings.interface in LISTEN_ONLY_KWARG:
            kwargs[LISTEN_ONLY_KWARG[settings.interface]] = True
        bus = await loop.run_in_executor(None, lambda: self._make_bus(kwargs))
        self._failed.clear()
        self._bus = bus
        try:
            fd = bus.fileno()
        except (NotImplementedError, AttributeError, OSError):
            fd = -1
        if isinstance(fd, int) and fd >= 0:
            self._fd = fd
            loop.add_reader(fd, self._drain)
        else:
            thread = threading.Thread(target=self._read_in_thread, args=(bus, loop), daemon=True)
            self._reader_thread = thread
            thread.start()

    def _make_bus(self, kwargs: dict[str, Any]) -> can.BusABC:
        settings = self._settings
        if settings.interface == "slcan":
            bulk = BulkSlcanBus(settings.channel, can_filters=self._filters, **kwargs)
            bulk.read_only(self._receive_ids)
            return bulk
        return can.Bus(
            interface=settings.interface,
            channel=settings.channel,
            can_filters=self._filters,
            **kwargs,
        )

    def _receive(self, bus: can.BusABC, timeout: float) -> can.Message | None:
        try:
            return bus.recv(timeout)
        except (ValueError, IndexError, UnicodeDecodeError):
            # A garbled line from an adapter (python-can's slcan parser raises these).
            self.counters.garbage += 1
            return None

    def _deliver(self, message: can.Message) -> None:
        if message.is_error_frame or message.is_remote_frame:
            return
        self._deliver_frame(message.arbitration_id, bytes(message.data))

    def _deliver_frame(self, arbitration_id: int, data: bytes) -> None:
        self.counters.frames_in += 1
        try:
            self._on_frame(arbitration_id, data)
        except Exception:
            self._log.exception("can.handler_failed", id=hex(arbitration_id))

    def _drain(self) -> None:
        bus = self._bus
        if bus is None:
            return
        if isinstance(bus, BulkSlcanBus):
            self._drain_bulk(bus)
            return
        try:
            for _ in range(256):
                message = self._receive(bus, 0.0)
                if message is None:
                    return
                self._deliver(message)
        except (can.CanError, OSError) as exc:
            self._log.warning("can.read_failed", error=str(exc))
            self._failed.set()

    def _drain_bulk(self, bus: BulkSlcanBus) -> None:
        try:
            frames = bus.read_frames()
        except (can.CanError, OSError) as exc:
            self._log.warning("can.read_failed", error=str(exc))
            self._failed.set()
            frames = []
        self.counters.garbage += bus.take_garbage()
        for arbitration_id, data in frames:
            self._deliver_frame(arbitration_id, data)

    def _read_in_thread(self, bus: can.BusABC, loop: asyncio.AbstractEventLoop) -> None:
        while self._bus is bus and not self._closing:
            try:
                message = self._receive(bus, 0.2)
            except (can.CanError, OSError) as exc:
                if self._bus is bus:
                    loop.call_soon_threadsafe(self._failed.set)
                    self._log.warning("can.read_failed", error=str(exc))
                return
            if message is not None:
                loop.call_soon_threadsafe(self._deliver, message)

    def _close_bus(self) -> None:
        bus, self._bus = self._bus, None
        if self._fd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)
            self._fd = None
        if bus is not None:
            with contextlib.suppress(Exception):
                bus.shutdown()
        thread, self._reader_thread = self._reader_thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)
